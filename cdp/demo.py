"""Synthetic demo data: deterministic partner-extract incidents for Nottingham's wards.

`generate` builds partner incident extract v1 rows (see DESIGN.md) for April 2020 to March 2025;
`build_demo` records them (cdp.demo_records: the extract's gaps and a police.uk share), loads them
through the real importers and marks the store as synthetic.
Nothing here is a real incident, place, premises or person: the points are random points inside
the real ward polygons, the street names are ward-plausible but not geocoded, the premises are
generic ("Convenience store, Alfreton Road") and the person keys are random.

What the data is made to show (the realism choices, all named constants below):
- Volumes: about 40,500 crimes and 12,000 ASB incidents a year by default (a city of 330,000),
  police.uk crime-type proportions, domestic abuse about a sixth of crime, hate crime 2.5-3%,
  weapons and drugs a few per cent each, modern slavery and exploitation rare; flags are drawn
  independently per incident, so incidents belong to several priorities (domestic + weapon + alcohol).
- Places: clustered random points inside the wards; each place has a heavy-tailed (lognormal)
  attractiveness, so about half of incidents fall on about 5% of places. Castle (the city centre)
  dominates night-time violence and shoplifting; deprived residential wards get the burglary,
  domestic abuse and ASB. A few thousand premises (licensed premises, shops, hostels, schools,
  transport hubs, residential) are a subset of places.
- People: each victim or offender has a "career" of K incidents (K heavy-tailed) clustered in
  time, in one ward; domestic abuse victims repeat most (about a third within 12 months, mostly
  at the same address), hate crime victims sometimes, with a few high-frequency victims.
- Time: cosine seasonality (ASB and violence up in summer, burglary in the dark months), hourly
  and weekly rhythm (the night-time economy on Friday and Saturday nights, shops by day),
  Halloween and Bonfire Night, Diwali and New Year fireworks, Christmas and New Year domestic
  abuse, the COVID-19 restrictions of 2020-21 (crime and the night-time economy down, ASB up with
  lockdown-breach reports), a shoplifting rise from 2022, ASB falling about 30% in the wards the
  partnership targeted (Bulwell, Aspley, St. Ann's, Bestwood, Meadows) but flat elsewhere and
  rising in the centre (Castle, Hyson Green & Arboretum, Radford).
- Hate crime spikes: after the Euro 2020 final (11 July 2021, racist abuse of England players)
  and after 7 October 2023 (religious hate).
"""
from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from .ingest.partner import COLUMNS as PARTNER_COLUMNS

# ---------------------------------------------------------------------------------------------
# Period and volumes
PERIOD_START = np.datetime64("2020-04-01", "D")
PERIOD_END = np.datetime64("2025-04-01", "D")          # exclusive
N_DAYS = int((PERIOD_END - PERIOD_START).astype(int))   # 1,826 (includes 29 Feb 2024)
N_YEARS = 5                                              # plan years 2020/21 .. 2024/25
CRIMES_PER_YEAR = 40_500
ASB_PER_YEAR = 12_000
DEFAULT_ROWS = (CRIMES_PER_YEAR + ASB_PER_YEAR) * N_YEARS  # 262,500
# A build generates and writes at most this many incidents at a time (the default demo is one
# chunk), so memory stays bounded at any size (about 0.7 GB a chunk).
CHUNK_ROWS = DEFAULT_ROWS
GENERATING_SHARE = 0.4  # of a build's progress: generating and writing; the rest is the import

# Places: one candidate place per this many incidents (so concentration does not depend on size).
INCIDENTS_PER_PLACE = 12
MIN_PLACES, MAX_PLACES = 1_500, 80_000
PLACE_SIGMA = 1.8            # lognormal spread of place attractiveness (tuned: ~half at top 5%)
PLACE_WEIGHT_CAP_Z = 2.6     # attractiveness capped at this many sigmas (no runaway places)
MAX_PLACE_SHARE = 0.02       # no place takes more than this share of one stream's incidents,
MAX_RESIDENTIAL_SHARE = 0.002  # nor any block of flats more than this
BUSY_PLACE_QUANTILE = 0.9    # busier places and public premises sit on the main roads
CLUSTERED_PLACE_SHARE = 0.6  # share of places drawn around neighbourhood centres, not uniformly
CLUSTER_SD_M = 180           # spread of a neighbourhood cluster, metres
GENERIC_LOCATION_SHARE = 0.08  # police.uk-style "On or near Supermarket" labels for street places

PLACE_TYPES = ("street", "licensed premises", "shop", "hostel", "school", "transport hub",
               "residential")
# Premises per place, by type (about 3,000 premises at the default size).
PREMISES_PER_PLACE = {"licensed premises": 0.014, "shop": 0.042, "hostel": 0.0016,
                      "school": 0.006, "transport hub": 0.004, "residential": 0.072}

# The partner extract v1 columns, with coordinates as longitude/latitude only.
COLUMNS = [c for c in PARTNER_COLUMNS if c not in ("easting", "northing")]
FLAGS = ("asb", "drugs", "alcohol", "hate_crime", "weapon", "modern_slavery", "exploitation",
         "domestic_abuse", "sexual_violence")

# ---------------------------------------------------------------------------------------------
# Wards: (place density per km2 relative, night-time economy, retail, residential crime, ASB)
WARD_TRAITS: dict[str, tuple[float, float, float, float, float]] = {
    "Castle":                  (3.0, 10.0, 5.0, 0.7, 1.6),
    "Hyson Green & Arboretum": (1.8, 1.6, 1.8, 1.6, 1.7),
    "Radford":                 (2.0, 1.4, 1.0, 1.5, 1.6),
    "Lenton & Wollaton East":  (0.7, 0.9, 0.8, 1.1, 1.4),
    "St. Ann's":               (1.5, 0.6, 0.8, 1.6, 1.6),
    "Meadows":                 (1.3, 0.6, 0.8, 1.4, 1.3),
    "Bulwell":                 (1.2, 1.2, 1.8, 1.6, 1.6),
    "Aspley":                  (1.4, 0.5, 0.8, 1.6, 1.6),
    "Bilborough":              (1.0, 0.5, 0.8, 1.2, 1.2),
    "Basford":                 (1.0, 0.6, 0.9, 1.0, 1.0),
    "Berridge":                (1.5, 0.8, 0.9, 1.1, 1.1),
    "Bestwood":                (1.1, 0.5, 0.7, 1.3, 1.3),
    "Bulwell Forest":          (0.9, 0.4, 0.7, 0.8, 0.8),
    "Clifton East":            (1.1, 0.6, 1.1, 1.1, 1.2),
    "Clifton West":            (0.7, 0.4, 0.6, 0.8, 0.8),
    "Dales":                   (1.1, 0.6, 0.8, 1.1, 1.0),
    "Leen Valley":             (1.0, 0.4, 0.6, 0.8, 0.8),
    "Mapperley":               (1.1, 0.5, 0.7, 0.7, 0.7),
    "Sherwood":                (1.2, 0.8, 1.0, 0.7, 0.7),
    "Wollaton West":           (0.6, 0.3, 0.6, 0.35, 0.4),
}
DEFAULT_TRAITS = (1.0, 0.6, 0.8, 1.0, 1.0)  # another partnership's wards
WARD_WEIGHT_COLUMNS = {"centre": 1, "retail": 2, "residential": 3, "asb": 4}

# ASB trend by ward, per plan year 2020/21..2024/25 (2020/21 is also inflated by COVID reports).
ASB_TREND_WARDS = {
    "falling": ("Bulwell", "Aspley", "St. Ann's", "Bestwood", "Meadows"),
    "rising": ("Castle", "Hyson Green & Arboretum", "Radford"),
}
ASB_TRENDS = {
    "falling": (1.0, 0.92, 0.84, 0.79, 0.77),  # ~30% below 2020/21 by 2023/24
    "flat": (1.0, 1.10, 1.12, 1.13, 1.13),     # flat once the COVID inflation is allowed for
    "rising": (1.0, 1.20, 1.30, 1.37, 1.42),
}

WARD_STREETS: dict[str, tuple[str, ...]] = {
    "Castle": ("Market Street", "Long Row", "Upper Parliament Street", "Lower Parliament Street",
               "Friar Lane", "Maid Marian Way", "Goose Gate", "Carrington Street",
               "Canal Street", "Broad Street", "Fletcher Gate", "Bridlesmith Gate",
               "Clumber Street", "Wheeler Gate", "Angel Row", "Castle Boulevard",
               "Station Street", "King Street", "Queen Street", "Hounds Gate", "Stoney Street",
               "Lister Gate", "Greyfriar Gate", "Park Row", "Castle Road", "Barker Gate"),
    "Hyson Green & Arboretum": ("Radford Road", "Gregory Boulevard", "Noel Street",
                                "Waverley Street", "Forest Road West", "Arboretum Street",
                                "North Sherwood Street", "Bentinck Road", "Alfreton Road",
                                "Mount Hooton Road", "Terrace Street", "Birkin Avenue"),
    "Radford": ("Alfreton Road", "Ilkeston Road", "Hartley Road", "Faraday Road",
                "Norton Street", "Bloomsgrove Street", "St Peter's Street", "Denman Street",
                "Prospect Place", "Salisbury Street", "Lenton Boulevard"),
    "Lenton & Wollaton East": ("Derby Road", "Lenton Boulevard", "Rothesay Avenue",
                               "Harlaxton Drive", "Church Street", "Abbey Street",
                               "Beeston Road", "Montpelier Road", "Triumph Road",
                               "Lenton Lane", "Gregory Street", "Albert Grove",
                               "University Boulevard"),
    "St. Ann's": ("St Ann's Well Road", "Woodborough Road", "Robin Hood Chase",
                  "Alfred Street North", "Hungerhill Road", "Blue Bell Hill Road",
                  "Huntingdon Street", "Bath Street", "Ransom Road", "Cranmer Street",
                  "Union Road", "Peas Hill Road"),
    "Meadows": ("Arkwright Street", "Wilford Road", "Meadows Way", "Bathley Street",
                "Kirkewhite Street", "Queen's Drive", "Collygate Road", "Waterway Street",
                "London Road", "Crocus Street", "Wilford Crescent"),
    "Bulwell": ("Main Street", "Highbury Road", "Commercial Road", "Coventry Road",
                "Hucknall Lane", "Cinderhill Road", "Crabtree Road", "Strelley Road",
                "Ravensworth Road", "Bulwell Lane", "Northern Drive"),
    "Aspley": ("Aspley Lane", "Broxtowe Lane", "Nuthall Road", "Minver Crescent", "Bells Lane",
               "Melbourne Road", "Western Boulevard", "Denewood Crescent", "Lindfield Road",
               "Cherry Street"),
    "Bilborough": ("Bilborough Road", "Wigman Road", "Beechdale Road", "Bracebridge Drive",
                   "Glaisdale Drive", "Harvey Road", "Strelley Road", "Chingford Road",
                   "Coleby Road"),
    "Basford": ("Vernon Road", "Valley Road", "Nottingham Road", "Stockhill Lane",
                "Percy Street", "Lincoln Street", "Mill Street", "Southwark Street",
                "Bailey Street"),
    "Berridge": ("Berridge Road", "Sherwood Rise", "Gladstone Street", "Haydn Road",
                 "Leslie Road", "Foxhall Road", "Isandula Road", "Burford Road",
                 "Hardy Street"),
    "Bestwood": ("Beckhampton Road", "Arnold Road", "Top Valley Way", "Bestwood Road",
                 "Southglade Road", "Padstow Road", "Raymede Drive", "Bewcastle Road"),
    "Bulwell Forest": ("Hucknall Road", "Bestwood Park Drive", "Ridgeway", "Ashington Drive",
                       "Squires Avenue", "Henry Road", "Rise Park Road", "Kingsbury Drive"),
    "Clifton East": ("Southchurch Drive", "Farnborough Road", "Green Lane", "Clifton Lane",
                     "Swansdowne Drive", "Hollington Road", "Nobel Road", "Fairham Road"),
    "Clifton West": ("Varney Road", "Silverdale", "Farnborough Road", "Summerwood Lane",
                     "Charnwood Avenue", "Sturgeon Avenue", "Hawksley Road", "Glapton Road"),
    "Dales": ("Sneinton Dale", "Carlton Road", "Colwick Road", "Sneinton Boulevard",
              "Greenwood Road", "Oakdale Road", "Trent Lane", "Lord Nelson Street",
              "Sneinton Hermitage"),
    "Leen Valley": ("Chalfont Drive", "Robins Wood Road", "Ambleside Road", "Cinderhill Road",
                    "Stockhill Lane", "Woodthorpe Road", "Wollaton Vale", "Ribblesdale Road"),
    "Mapperley": ("Woodborough Road", "Porchester Road", "Mapperley Road", "Querneby Road",
                  "Kent Road", "Magdala Road", "Westdale Lane", "Thorneywood Mount"),
    "Sherwood": ("Mansfield Road", "Edwards Lane", "Perry Road", "Winchester Street",
                 "Haydn Road", "Devon Drive", "Osborne Grove", "Carrington Street North"),
    "Wollaton West": ("Wollaton Road", "Bramcote Lane", "Trowell Road", "Wollaton Vale",
                      "Middleton Boulevard", "Parkside", "Charlbury Road", "Russell Drive",
                      "Torvill Drive"),
}
# Minor streets ("Hawthorn Close") added to each ward's main roads.
MINOR_STREETS_PER_WARD = 30
MINOR_STREET_STEMS = ("Beech", "Hawthorn", "Ash", "Elm", "Oak", "Willow", "Rowan", "Birch",
                      "Cedar", "Laurel", "Holly", "Maple", "Chestnut", "Sycamore", "Hazel",
                      "Heather", "Primrose", "Meadow", "Orchard", "Brook", "Chapel", "Grange",
                      "Manor", "Byron", "Tennyson", "Wordsworth", "Chaucer", "Kingsley",
                      "Lawrence", "Trent", "Derwent", "Dove", "Belvoir", "Clumber", "Welbeck",
                      "Newstead", "Rufford", "Thoresby", "Southwell", "Ollerton", "Hardwick",
                      "Wollaton", "Lambley", "Gedling", "Calverton", "Colwick", "Attenborough")
MINOR_STREET_SUFFIXES = ("Close", "Avenue", "Drive", "Gardens", "Road", "Street", "Crescent",
                         "Grove", "Walk", "Court", "Way", "Rise", "Lane", "Mews")
GENERIC_STREETS = ("High Street", "Station Road", "Church Street", "Park Road", "Victoria Road",
                   "Mill Lane", "School Lane", "The Green", "Queen Street", "King Street")
# police.uk's anonymised location labels ("On or near Supermarket").
GENERIC_LOCATIONS = ("Parking Area", "Supermarket", "Petrol Station", "Park/Open Space",
                     "Shopping Area", "Sports/Recreation Area", "Pedestrian Subway",
                     "Further/Higher Educational Building", "Bus/Coach Station")
PREMISES_NAMES = {
    "licensed premises": ("The Crown", "The Red Lion", "The Royal Oak", "The White Hart",
                          "The Plough", "The Bell", "The Swan", "The Kings Head",
                          "The Queens Head", "The Rose and Crown", "The Wheatsheaf",
                          "The Forester", "Late bar", "Nightclub", "Cocktail bar",
                          "Sports bar"),
    "shop": ("Convenience store", "Supermarket", "Off-licence", "Pharmacy", "Discount store",
             "Mobile phone shop", "Bookmaker", "Takeaway", "Petrol station shop",
             "Clothing store", "Department store"),
    "hostel": ("Supported housing hostel", "Homeless hostel", "Night shelter",
               "Move-on accommodation"),
    "school": ("Primary school", "Academy", "Secondary school", "Nursery", "College"),
    "transport hub": ("Tram stop", "Bus interchange", "Bus station", "Park and ride"),
    "residential": ("Flats", "House in multiple occupation", "Maisonettes", "Care home",
                    "Student block", "Sheltered housing"),
}

# ---------------------------------------------------------------------------------------------
# Incident streams: each yields incidents of one kind with one temporal and spatial profile.
@dataclass(frozen=True)
class Stream:
    name: str
    kind: str                     # "crime" or "asb"
    share: float                  # of the kind's incidents (normalised)
    categories: dict[str, float]
    time: str                     # TIME_PROFILES key
    wards: str                    # WARD_WEIGHT_COLUMNS key
    places: str                   # PLACE_AFFINITY key
    flags: dict[str, float]       # probability of each flag
    victim: tuple[str | None, float]    # (victim pool, probability a victim is recorded)
    offender: tuple[str | None, float]  # (offender pool, probability an offender is recorded)
    sources: dict[str, float] = None  # type: ignore[assignment]
    outcomes: str | None = None


VSO, PO, CDA = "Violence and sexual offences", "Public order", "Criminal damage and arson"
POLICE = {"police": 1.0}
HATE_SPIKE_MIX = {PO: 0.7, VSO: 0.22, CDA: 0.08}
STREAMS: tuple[Stream, ...] = (
    Stream("domestic_violence", "crime", 0.145, {VSO: 1}, "domestic", "residential", "home",
           {"domestic_abuse": 1, "alcohol": 0.3, "weapon": 0.05, "sexual_violence": 0.05,
            "drugs": 0.03}, ("da", 0.98), ("da", 0.95)),
    Stream("nte_violence", "crime", 0.075, {VSO: 1}, "nte", "centre", "nte",
           {"alcohol": 0.6, "weapon": 0.04, "sexual_violence": 0.04, "drugs": 0.05,
            "hate_crime": 0.01}, ("personal", 0.92), ("violence", 0.45)),
    Stream("other_violence", "crime", 0.17, {VSO: 1}, "day_evening", "residential", "street",
           {"alcohol": 0.12, "weapon": 0.05, "sexual_violence": 0.12, "drugs": 0.02,
            "exploitation": 0.006}, ("personal", 0.95), ("violence", 0.6)),
    Stream("hate_violence", "crime", 0.008, {VSO: 1}, "hate", "asb", "hate",
           {"hate_crime": 1, "alcohol": 0.15, "weapon": 0.03}, ("hate", 0.97),
           ("violence", 0.45)),
    Stream("public_order", "crime", 0.06, {PO: 1}, "day_evening", "residential", "street",
           {"alcohol": 0.18, "domestic_abuse": 0.08, "drugs": 0.02}, ("personal", 0.75),
           ("violence", 0.55)),
    Stream("nte_public_order", "crime", 0.03, {PO: 1}, "nte", "centre", "nte",
           {"alcohol": 0.5}, ("personal", 0.5), ("violence", 0.7)),
    Stream("hate_public_order", "crime", 0.014, {PO: 1}, "hate", "asb", "hate",
           {"hate_crime": 1, "alcohol": 0.15}, ("hate", 0.97), ("violence", 0.5)),
    Stream("criminal_damage", "crime", 0.08, {CDA: 1}, "evening", "residential", "home",
           {"domestic_abuse": 0.15, "alcohol": 0.06}, ("household", 0.85), ("violence", 0.3)),
    Stream("hate_damage", "crime", 0.003, {CDA: 1}, "hate", "residential", "hate",
           {"hate_crime": 1}, ("hate", 0.95), ("violence", 0.2)),
    Stream("deliberate_fires", "crime", 0.008, {CDA: 1}, "fire", "asb", "street", {},
           (None, 0), ("asb", 0.05), sources={"fire": 1.0}, outcomes="fire"),
    Stream("shoplifting", "crime", 0.09, {"Shoplifting": 1}, "shop", "retail", "shop",
           {"drugs": 0.08}, (None, 0), ("acquisitive", 0.45)),
    Stream("other_theft", "crime", 0.08, {"Other theft": 1}, "daytime", "retail", "public", {},
           ("household", 0.8), ("acquisitive", 0.12)),
    Stream("vehicle_crime", "crime", 0.06, {"Vehicle crime": 1}, "overnight", "residential",
           "street", {}, ("household", 0.95), ("acquisitive", 0.08)),
    Stream("burglary", "crime", 0.06, {"Burglary": 1}, "burglary", "residential", "home",
           {"domestic_abuse": 0.03, "drugs": 0.02}, ("household", 0.95), ("acquisitive", 0.15)),
    Stream("drugs", "crime", 0.03, {"Drugs": 1}, "drugs", "asb", "drugs",
           {"drugs": 1, "exploitation": 0.08, "weapon": 0.05}, (None, 0), ("drugs", 1.0),
           outcomes="drugs"),
    Stream("theft_from_person", "crime", 0.02, {"Theft from the person": 1}, "day_evening",
           "centre", "nte", {}, ("personal", 0.95), ("acquisitive", 0.1)),
    Stream("robbery", "crime", 0.02, {"Robbery": 1}, "evening", "residential", "street",
           {"weapon": 0.3, "drugs": 0.06, "exploitation": 0.04}, ("personal", 0.95),
           ("acquisitive", 0.3)),
    Stream("bicycle_theft", "crime", 0.025, {"Bicycle theft": 1}, "bicycle", "retail", "public",
           {}, ("household", 0.9), ("acquisitive", 0.05)),
    Stream("possession_of_weapons", "crime", 0.015, {"Possession of weapons": 1}, "evening",
           "asb", "drugs", {"weapon": 1, "drugs": 0.15, "exploitation": 0.05}, (None, 0),
           ("drugs", 1.0)),
    Stream("other_crime", "crime", 0.03, {"Other crime": 1}, "daytime", "residential", "home",
           {"domestic_abuse": 0.2, "modern_slavery": 0.04, "exploitation": 0.05},
           ("household", 0.6), ("violence", 0.5)),
    # Hate crime spikes: racist abuse after England lost the Euro 2020 final on 11 July 2021,
    # and religious hate after 7 October 2023.
    Stream("hate_euro2020", "crime", 0.0006, HATE_SPIKE_MIX, "hate_euro2020", "asb", "hate",
           {"hate_crime": 1, "alcohol": 0.3}, ("hate", 0.97), ("violence", 0.4)),
    Stream("hate_oct2023", "crime", 0.0004, HATE_SPIKE_MIX, "hate_oct2023", "asb", "hate",
           {"hate_crime": 1}, ("hate", 0.97), ("violence", 0.3)),
    # Anti-social behaviour
    Stream("rowdy", "asb", 0.38, {"Rowdy or inconsiderate behaviour": 1}, "asb", "asb",
           "public", {"alcohol": 0.15, "drugs": 0.03, "hate_crime": 0.004}, ("asb", 0.4),
           ("asb", 0.3), sources={"police": 0.55, "council_asb": 0.45}),
    Stream("noise", "asb", 0.20, {"Noise": 1}, "noise", "asb", "home", {"alcohol": 0.05},
           ("asb", 0.9), ("asb", 0.6), sources={"council_asb": 0.85, "housing": 0.15}),
    Stream("vehicle_nuisance", "asb", 0.11, {"Vehicle nuisance": 1}, "asb", "asb", "street", {},
           ("asb", 0.3), ("asb", 0.15), sources={"police": 0.7, "council_asb": 0.3}),
    Stream("neighbour_dispute", "asb", 0.09, {"Neighbour dispute": 1}, "day_evening",
           "residential", "home", {}, ("asb", 0.95), ("asb", 0.85),
           sources={"council_asb": 0.55, "housing": 0.45}),
    Stream("drug_dealing", "asb", 0.07, {"Drug dealing": 1}, "evening", "asb", "drugs",
           {"drugs": 1, "exploitation": 0.04}, ("asb", 0.1), ("drugs", 0.2),
           sources={"police": 0.7, "council_asb": 0.3}),
    Stream("street_drinking", "asb", 0.05, {"Street drinking": 1}, "daytime", "centre",
           "drinking", {"alcohol": 1}, (None, 0), ("asb", 0.3),
           sources={"police": 0.5, "council_asb": 0.5}),
    Stream("fireworks", "asb", 0.05, {"Fireworks": 1}, "fireworks", "asb", "street", {},
           ("asb", 0.3), ("asb", 0.1), sources={"police": 0.6, "council_asb": 0.4}),
    Stream("littering", "asb", 0.05, {"Littering": 1}, "daytime", "asb", "public", {},
           (None, 0), ("asb", 0.05), sources={"council_asb": 1.0}),
)

# Multiplier on a place's weight by its type, per stream place profile (order of PLACE_TYPES:
# street, licensed premises, shop, hostel, school, transport hub, residential).
PLACE_AFFINITY: dict[str, tuple[float, ...]] = {
    "street":   (1.0, 0.5, 0.8, 1.0, 0.5, 1.5, 1.0),
    "home":     (1.0, 0.05, 0.05, 3.0, 0.05, 0.02, 6.0),
    "nte":      (1.0, 20.0, 1.0, 1.0, 0.02, 4.0, 0.2),
    "shop":     (0.2, 0.3, 100.0, 0.0, 0.0, 0.05, 0.0),
    "public":   (1.0, 3.0, 4.0, 1.0, 1.5, 5.0, 0.3),
    "hate":     (1.0, 3.0, 4.0, 1.0, 2.0, 5.0, 3.0),
    "drugs":    (1.0, 1.0, 1.0, 8.0, 0.2, 3.0, 1.0),
    "drinking": (1.0, 2.0, 6.0, 8.0, 0.1, 4.0, 0.2),
}

# ---------------------------------------------------------------------------------------------
# Time profiles: 24 hourly weights, day-of-week weights (Mon..Sun; the hours 00-05 count as the
# previous evening's night), cosine seasonality (amplitude, peak day of year) and a trend per
# plan year. ASB streams take their trend from the ward's ASB trend instead.
H_NTE = (9, 7.5, 5.5, 3, 1.5, 0.6, 0.3, 0.3, 0.3, 0.4, 0.5, 0.6, 0.8, 0.9, 1.0, 1.1, 1.3, 1.6,
         2.0, 2.5, 3.2, 4.5, 6.5, 8.5)
H_DOMESTIC = (2.2, 1.8, 1.4, 1.0, 0.7, 0.5, 0.5, 0.8, 1.1, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 2.0,
              2.3, 2.6, 2.9, 3.1, 3.2, 3.2, 3.0, 2.7)
H_DAY_EVENING = (1.5, 1.2, 0.9, 0.6, 0.4, 0.3, 0.4, 0.7, 1.2, 1.5, 1.7, 1.9, 2.1, 2.2, 2.4, 2.8,
                 3.2, 3.3, 3.2, 3.0, 2.8, 2.6, 2.3, 1.9)
H_EVENING = (1.8, 1.4, 1.0, 0.7, 0.5, 0.3, 0.3, 0.5, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.4, 2.9,
             3.3, 3.6, 3.7, 3.6, 3.3, 2.8, 2.2)
H_DAYTIME = (0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.4, 0.9, 1.6, 2.2, 2.6, 2.9, 3.1, 3.1, 3.0, 2.9,
             2.8, 2.5, 2.0, 1.5, 1.1, 0.8, 0.6, 0.4)
H_SHOP = (0.05, 0.03, 0.02, 0.02, 0.02, 0.05, 0.2, 0.8, 1.8, 2.6, 3.0, 3.2, 3.3, 3.4, 3.4, 3.4,
          3.4, 3.2, 2.7, 2.0, 1.4, 0.9, 0.5, 0.2)
H_OVERNIGHT = (2.6, 2.6, 2.4, 2.0, 1.6, 1.2, 1.0, 0.9, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1,
               1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4, 2.6)
H_BURGLARY = (1.4, 1.3, 1.1, 0.9, 0.7, 0.5, 0.5, 0.7, 1.0, 1.2, 1.3, 1.4, 1.4, 1.4, 1.5, 1.6,
              1.9, 2.2, 2.4, 2.4, 2.2, 2.0, 1.8, 1.6)
H_ASB = (1.3, 0.9, 0.6, 0.4, 0.25, 0.2, 0.3, 0.5, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.1, 2.6, 3.0,
         3.3, 3.5, 3.6, 3.4, 3.0, 2.4, 1.8)
H_NOISE = (3.2, 2.6, 1.8, 1.0, 0.5, 0.3, 0.3, 0.4, 0.6, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.6,
           1.9, 2.3, 2.8, 3.3, 3.8, 4.0, 3.8)
H_FIREWORKS = (2.0, 0.8, 0.3, 0.1, 0.05, 0.05, 0.05, 0.1, 0.1, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0,
               2.0, 3.5, 5.0, 5.5, 5.0, 4.0, 3.0, 2.5)
D_FLAT = (1, 1, 1, 1, 1, 1, 1)
D_NTE = (0.45, 0.45, 0.65, 0.9, 2.3, 2.7, 0.9)  # Wednesday student night; Friday, Saturday
D_WEEKEND = (0.95, 0.95, 0.95, 0.95, 1.05, 1.2, 1.25)
D_ASB = (0.9, 0.9, 0.9, 0.95, 1.15, 1.2, 1.0)
D_NOISE = (0.8, 0.8, 0.85, 0.9, 1.25, 1.45, 0.95)
D_SHOP = (1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 0.75)
T_FLAT = (1.0, 1.0, 1.0, 1.0, 1.0)
# Trend per plan year before COVID effects: 2020/21 at the pre-pandemic level, then the plan's
# "reduce crime", modestly.
T_CRIME = (1.15, 1.06, 1.04, 1.0, 0.97)


@dataclass(frozen=True)
class TimeProfile:
    hours: tuple[float, ...]
    days: tuple[float, ...] = D_FLAT
    season: tuple[float, int] = (0.0, 0)  # amplitude, peak day of year
    trend: tuple[float, ...] = T_CRIME
    window: tuple[str, int, float] | None = None  # only (start date, days), decaying (days)


TIME_PROFILES: dict[str, TimeProfile] = {
    "nte": TimeProfile(H_NTE, D_NTE, (0.10, 190), (1.0, 1.04, 1.08, 1.03, 0.98)),
    "domestic": TimeProfile(H_DOMESTIC, D_WEEKEND, (0.08, 190), (1.05, 1.03, 1.02, 0.99, 0.97)),
    "day_evening": TimeProfile(H_DAY_EVENING, D_WEEKEND, (0.12, 195)),
    "evening": TimeProfile(H_EVENING, D_WEEKEND, (0.10, 200)),
    "daytime": TimeProfile(H_DAYTIME, D_SHOP, (0.06, 200)),
    # Shoplifting rose sharply from 2022 (cost of living, retail crime).
    "shop": TimeProfile(H_SHOP, D_SHOP, (0.08, 345), (1.15, 1.05, 1.2, 1.45, 1.6)),
    "overnight": TimeProfile(H_OVERNIGHT, D_FLAT, (0.08, 330)),
    "burglary": TimeProfile(H_BURGLARY, D_FLAT, (0.15, 330)),
    "bicycle": TimeProfile(H_DAYTIME, D_FLAT, (0.30, 215)),
    "drugs": TimeProfile(H_EVENING, D_WEEKEND, (0.05, 180)),
    "hate": TimeProfile(H_DAY_EVENING, D_FLAT, (0.10, 190), (1.0, 1.08, 1.04, 1.06, 1.02)),
    "hate_euro2020": TimeProfile(H_DAY_EVENING, window=("2021-07-11", 21, 6.0)),
    "hate_oct2023": TimeProfile(H_DAY_EVENING, window=("2023-10-07", 55, 18.0)),
    "fire": TimeProfile(H_EVENING, D_FLAT, (0.25, 130)),
    "asb": TimeProfile(H_ASB, D_ASB, (0.28, 200)),
    "noise": TimeProfile(H_NOISE, D_NOISE, (0.25, 200)),
    "fireworks": TimeProfile(H_FIREWORKS, D_ASB, (0.0, 0)),
}

# Recurring days: (first "MM-DD", last "MM-DD", {profile: multiplier}).
ANNUAL_EVENTS: tuple[tuple[str, str, dict[str, float]], ...] = (
    ("10-20", "11-10", {"fireworks": 6.0}),
    ("10-28", "11-07", {"asb": 1.3, "fire": 1.5}),
    ("10-31", "10-31", {"asb": 1.8, "fireworks": 2.0, "fire": 1.5}),  # Halloween
    ("11-05", "11-05", {"asb": 2.2, "fireworks": 5.0, "fire": 3.0}),  # Bonfire Night
    ("12-01", "12-24", {"nte": 1.15}),                                # Christmas parties
    ("12-25", "12-26", {"domestic": 1.45}),
    ("12-31", "12-31", {"nte": 1.4, "asb": 1.4, "fireworks": 12.0, "domestic": 1.3}),
    ("01-01", "01-01", {"nte": 2.5, "asb": 1.6, "fireworks": 10.0, "domestic": 1.7,
                        "day_evening": 1.3}),
)
# One-off days: (first, last, {profile: multiplier}).
DATED_EVENTS: tuple[tuple[str, str, dict[str, float]], ...] = (
    ("2020-11-14", "2020-11-14", {"fireworks": 10.0}),   # Diwali
    ("2021-11-04", "2021-11-04", {"fireworks": 10.0}),
    ("2022-10-24", "2022-10-24", {"fireworks": 10.0}),
    ("2023-11-12", "2023-11-12", {"fireworks": 10.0}),
    ("2024-11-01", "2024-11-01", {"fireworks": 10.0}),
    ("2021-07-11", "2021-07-12", {"domestic": 1.4, "nte": 1.6}),  # Euro 2020 final
    ("2024-07-14", "2024-07-15", {"domestic": 1.3, "nte": 1.4}),  # Euro 2024 final
    ("2021-12-17", "2021-12-17", {"nte": 1.8}),                   # "Mad Friday"
    ("2022-12-16", "2022-12-16", {"nte": 1.8}),
    ("2023-12-22", "2023-12-22", {"nte": 1.8}),
    ("2024-12-20", "2024-12-20", {"nte": 1.8}),
)
# COVID-19 restrictions in Nottingham: (first, last, what, {profile: multiplier}).
_LOCKDOWN = {"nte": 0.08, "shop": 0.45, "daytime": 0.55, "day_evening": 0.7, "evening": 0.75,
             "burglary": 0.7, "overnight": 0.75, "bicycle": 1.1, "domestic": 1.1, "drugs": 1.35,
             "hate": 0.9, "fire": 1.2, "asb": 1.6, "noise": 1.5}
COVID_RESTRICTIONS: tuple[tuple[str, str, str, dict[str, float]], ...] = (
    ("2020-04-01", "2020-05-12", "first national lockdown", _LOCKDOWN),
    ("2020-05-13", "2020-06-14", "lockdown easing, shops and pubs shut",
     {**_LOCKDOWN, "shop": 0.55, "daytime": 0.65, "day_evening": 0.8, "evening": 0.85,
      "overnight": 0.85, "asb": 1.45}),
    ("2020-06-15", "2020-07-03", "shops reopen",
     {"nte": 0.12, "shop": 0.8, "daytime": 0.8, "day_evening": 0.85, "asb": 1.3, "noise": 1.3}),
    ("2020-07-04", "2020-09-23", "pubs reopen with distancing",
     {"nte": 0.6, "shop": 0.9, "asb": 1.15, "noise": 1.15}),
    ("2020-09-24", "2020-11-04", "10pm curfew; tier 3 from 30 October",
     {"nte": 0.4, "shop": 0.9, "asb": 1.1, "noise": 1.15}),
    ("2020-11-05", "2021-04-11", "second lockdown, tier 3, third lockdown",
     {"nte": 0.08, "shop": 0.6, "daytime": 0.7, "day_evening": 0.85, "evening": 0.85,
      "burglary": 0.8, "overnight": 0.85, "domestic": 1.08, "drugs": 1.2, "asb": 1.2,
      "noise": 1.3}),
    ("2021-04-12", "2021-05-16", "outdoor hospitality", {"nte": 0.4, "shop": 0.95}),
    ("2021-05-17", "2021-07-18", "indoor hospitality, nightclubs shut", {"nte": 0.7}),
)

# ---------------------------------------------------------------------------------------------
# People
AGE_BANDS = ("0-17", "18-24", "25-34", "35-49", "50-64", "65+")
SEXES = ("F", "M", "X")
HATE_STRANDS = ("race", "religion", "sexual_orientation", "disability", "transgender")
HATE_STRAND_MIX = (0.70, 0.07, 0.13, 0.06, 0.04)
HATE_SPIKE_STRANDS = {"hate_euro2020": (0.95, 0.0, 0.03, 0.01, 0.01),
                      "hate_oct2023": (0.2, 0.75, 0.03, 0.01, 0.01)}
SECOND_STRAND_SHARE = 0.07          # hate incidents with two strands (race;religion mostly)
SAME_STRAND_FOR_REPEATS = 0.85      # a repeat hate victim is usually targeted for one reason
WEAPON_TYPES = ("knife", "other", "firearm")
WEAPON_MIX = (0.64, 0.31, 0.05)


@dataclass(frozen=True)
class PersonPool:
    """How a pool of people repeat: share with 2+ incidents, tail, cap and spread in time."""
    repeat_share: float
    tail: float                      # Pareto exponent of incident counts above 1
    max_incidents: int
    spread_days: float               # standard deviation of a career around its centre
    age: tuple[float, ...]
    sex: tuple[float, float, float] = (0.5, 0.49, 0.01)
    vulnerable: float = 0.0
    home_share: float = 0.0          # share of a victim's incidents at their home place


VICTIM_POOLS: dict[str, PersonPool] = {
    # About a third of DA victims repeat within 12 months (national and local DA profiles).
    "da": PersonPool(0.37, 2.2, 30, 110, (0.03, 0.2, 0.33, 0.28, 0.12, 0.04),
                     (0.77, 0.22, 0.01), 0.3, 0.85),
    "hate": PersonPool(0.17, 1.8, 20, 120, (0.08, 0.2, 0.3, 0.27, 0.11, 0.04),
                       (0.42, 0.56, 0.02), 0.2, 0.35),
    "personal": PersonPool(0.07, 2.0, 10, 180, (0.1, 0.28, 0.27, 0.2, 0.1, 0.05),
                           (0.39, 0.6, 0.01), 0.12),
    "household": PersonPool(0.08, 2.0, 12, 150, (0.02, 0.12, 0.25, 0.3, 0.19, 0.12),
                            (0.48, 0.51, 0.01), 0.08, 0.7),
    "asb": PersonPool(0.28, 1.4, 40, 120, (0.01, 0.08, 0.2, 0.3, 0.24, 0.17),
                      (0.56, 0.43, 0.01), 0.18, 0.8),
}
OFFENDER_POOLS: dict[str, PersonPool] = {
    "violence": PersonPool(0.25, 1.6, 30, 250, (0.1, 0.27, 0.3, 0.23, 0.08, 0.02)),
    "acquisitive": PersonPool(0.35, 1.1, 150, 300, (0.07, 0.2, 0.33, 0.3, 0.09, 0.01)),
    "drugs": PersonPool(0.3, 1.5, 40, 250, (0.18, 0.38, 0.26, 0.13, 0.04, 0.01)),
    "asb": PersonPool(0.3, 1.4, 30, 200, (0.35, 0.28, 0.15, 0.13, 0.06, 0.03)),
}
DA_OFFENDER_AGE = (0.02, 0.14, 0.34, 0.34, 0.13, 0.03)
SERIAL_DA_PERPETRATORS = 0.08   # DA victims whose abuser also abuses another victim
DA_OFFENDER_KNOWN = 0.93        # the abuser is named in most domestic abuse records

# ---------------------------------------------------------------------------------------------
# Outcomes
OUTCOMES: dict[str, dict[str, float]] = {
    "crime_known": {"Suspect charged": 0.24, "Offender given a caution": 0.05,
                    "Local resolution": 0.07, "Unable to prosecute suspect": 0.44,
                    "Further investigation is not in the public interest": 0.05,
                    "Action to be taken by another organisation": 0.03,
                    "Formal action is not in the public interest": 0.04,
                    "Offender given penalty notice": 0.02, "Under investigation": 0.06},
    "crime_unknown": {"Investigation complete; no suspect identified": 0.86,
                      "Unable to prosecute suspect": 0.08, "Under investigation": 0.06},
    "drugs": {"Offender given a drugs possession warning": 0.3, "Suspect charged": 0.3,
              "Local resolution": 0.15, "Offender given a caution": 0.1,
              "Unable to prosecute suspect": 0.08, "Under investigation": 0.07},
    "fire": {"Deliberate fire - extinguished": 0.7, "Referred to police": 0.2,
             "Fire safety advice given": 0.1},
    "asb": {"Advice given": 0.32, "Warning letter issued": 0.18,
            "Referred to partner agency": 0.1, "Community Protection Warning issued": 0.07,
            "Mediation offered": 0.05, "Acceptable Behaviour Contract": 0.03,
            "No further action": 0.2, "Closed - no further contact from complainant": 0.05},
}
RECENT_DAYS = 90               # incidents this close to the end are mostly still open
OPEN_OUTCOME = {"crime": "Under investigation", "asb": "Case open"}
OPEN_SHARE = 0.55
ID_PREFIX = {"police": "NP", "council_asb": "NCC-ASB-", "housing": "NCH-", "fire": "NFRS-"}


# ---------------------------------------------------------------------------------------------
def _ward_key(name: str) -> str:
    return re.sub(r"[^a-z]", "", str(name).lower().replace("&", "and"))


_TRAITS_BY_KEY = {_ward_key(k): v for k, v in WARD_TRAITS.items()}
_STREETS_BY_KEY = {_ward_key(k): v for k, v in WARD_STREETS.items()}
_TREND_BY_KEY = {_ward_key(w): cls for cls, names in ASB_TREND_WARDS.items() for w in names}


def _split(total: int, shares) -> np.ndarray:
    """Integers proportional to `shares` summing exactly to `total` (largest remainder)."""
    shares = np.asarray(shares, float)
    exact = total * shares / shares.sum()
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]] += 1
    return counts


def _choice(rng: np.random.Generator, probs, n: int) -> np.ndarray:
    probs = np.asarray(probs, float)
    return np.searchsorted(np.cumsum(probs / probs.sum()), rng.random(n), side="right").clip(
        0, len(probs) - 1)


@dataclass
class _Places:
    lon: np.ndarray
    lat: np.ndarray
    ward: np.ndarray          # index into the wards frame
    ptype: np.ndarray         # index into PLACE_TYPES
    weight: np.ndarray        # heavy-tailed attractiveness
    location: np.ndarray      # object: street-like label
    premises_id: np.ndarray   # object, "" for street places
    premises_name: np.ndarray


def _sample_in_polygon(rng, geom, n: int, centres: np.ndarray | None, sd_deg) -> np.ndarray:
    """n points inside geom (rounded to 6 dp, re-checked after rounding), uniform or clustered."""
    minx, miny, maxx, maxy = geom.bounds
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        m = max(64, 3 * (n - have))
        if centres is None:
            x = rng.uniform(minx, maxx, m)
            y = rng.uniform(miny, maxy, m)
        else:
            c = centres[rng.integers(0, len(centres), m)]
            x = c[:, 0] + rng.normal(0, sd_deg[0], m)
            y = c[:, 1] + rng.normal(0, sd_deg[1], m)
        x, y = np.round(x, 6), np.round(y, 6)
        ok = shapely.contains_xy(geom, x, y)
        out.append(np.column_stack([x[ok], y[ok]]))
        have += int(ok.sum())
    return np.concatenate(out)[:n]


def _build_places(rng: np.random.Generator, wards: gpd.GeoDataFrame, n_places: int) -> _Places:
    """Candidate places inside the ward polygons, premises among them, street-like names."""
    traits = np.array([_TRAITS_BY_KEY.get(_ward_key(n), DEFAULT_TRAITS) for n in wards.ward_name])
    area_km2 = wards.geometry.to_crs(27700).area.to_numpy() / 1e6
    per_ward = np.maximum(_split(n_places, area_km2 * traits[:, 0]), 50)
    lat0 = float(wards.geometry.union_all().centroid.y)
    sd_deg = (CLUSTER_SD_M / (111_320 * np.cos(np.radians(lat0))), CLUSTER_SD_M / 110_540)

    lon, lat, ward, location, main_road = [], [], [], [], []
    for w, (geom, name, n) in enumerate(zip(wards.geometry, wards.ward_name, per_ward)):
        shapely.prepare(geom)
        n_clustered = int(n * CLUSTERED_PLACE_SHARE)
        centres = _sample_in_polygon(rng, geom, max(3, n // 150), None, None)
        pts = np.concatenate([_sample_in_polygon(rng, geom, n_clustered, centres, sd_deg),
                              _sample_in_polygon(rng, geom, n - n_clustered, None, None)])
        # Each street is a segment (main roads long, minor streets short); a place takes the
        # name of the nearest one.
        main = _STREETS_BY_KEY.get(_ward_key(name), GENERIC_STREETS)
        n_minor = MINOR_STREETS_PER_WARD if traits[w, 1] < 5 else 0  # not in the city centre
        minor = sorted({f"{MINOR_STREET_STEMS[i]} {MINOR_STREET_SUFFIXES[j]}" for i, j in zip(
            rng.integers(0, len(MINOR_STREET_STEMS), n_minor),
            rng.integers(0, len(MINOR_STREET_SUFFIXES), n_minor))} - set(main))
        streets = np.array(list(main) + minor, dtype=object)
        mid = _sample_in_polygon(rng, geom, len(streets), None, None)
        angle = rng.uniform(0, np.pi, len(streets))
        half = np.where(np.arange(len(streets)) < len(main), rng.uniform(3, 8, len(streets)),
                        rng.uniform(0.7, 2.0, len(streets))) * sd_deg[1]
        a = mid - np.column_stack([np.cos(angle), np.sin(angle)]) * half[:, None]
        b = mid + np.column_stack([np.cos(angle), np.sin(angle)]) * half[:, None]
        ab = b - a
        rel = pts[:, None, :] - a[None]
        s = np.clip((rel * ab[None]).sum(-1) / (ab * ab).sum(-1)[None], 0, 1)
        d2 = ((rel - s[..., None] * ab[None]) ** 2).sum(-1)
        lon.append(pts[:, 0])
        lat.append(pts[:, 1])
        ward.append(np.full(n, w))
        location.append(streets[d2.argmin(1)])
        main_road.append(streets[d2[:, : len(main)].argmin(1)])
    lon, lat, ward = np.concatenate(lon), np.concatenate(lat), np.concatenate(ward)
    location, main_road = np.concatenate(location), np.concatenate(main_road)
    n_total = len(lon)
    weight = np.exp(np.minimum(rng.normal(0.0, PLACE_SIGMA, n_total),
                               PLACE_WEIGHT_CAP_Z * PLACE_SIGMA))

    # Premises: a subset of places, each type placed where its kind of ward is.
    ptype = np.zeros(n_total, np.int64)
    ward_factor = {"licensed premises": traits[:, 1], "shop": traits[:, 2],
                   "hostel": (traits[:, 1] + traits[:, 3]) / 2, "school": np.ones(len(traits)),
                   "transport hub": traits[:, 2], "residential": traits[:, 3]}
    for t, rate in PREMISES_PER_PLACE.items():
        free = np.flatnonzero(ptype == 0)
        p = ward_factor[t][ward[free]]
        k = min(len(free), max(1, round(rate * n_total)))
        chosen = rng.choice(free, size=k, replace=False, p=p / p.sum())
        ptype[chosen] = PLACE_TYPES.index(t)
    busy = (weight >= np.quantile(weight, BUSY_PLACE_QUANTILE)) | (
        (ptype > 0) & (ptype != PLACE_TYPES.index("residential")))
    location[busy] = main_road[busy]
    premises = np.flatnonzero(ptype > 0)
    premises = premises[rng.permutation(len(premises))]
    premises_id = np.full(n_total, "", dtype=object)
    premises_name = np.full(n_total, "", dtype=object)
    width = max(5, len(str(len(premises))))
    for i, p in enumerate(premises):
        names = PREMISES_NAMES[PLACE_TYPES[ptype[p]]]
        premises_id[p] = f"P{i + 1:0{width}d}"
        premises_name[p] = f"{names[rng.integers(len(names))]}, {location[p]}"
    generic = (ptype == 0) & (rng.random(n_total) < GENERIC_LOCATION_SHARE)
    location[generic] = np.array(GENERIC_LOCATIONS, dtype=object)[
        rng.integers(0, len(GENERIC_LOCATIONS), generic.sum())]
    return _Places(lon, lat, ward, ptype, weight, location, premises_id, premises_name)


# ---------------------------------------------------------------------------------------------
class _Calendar:
    """Day-level arrays for the period and the hourly intensity of each time profile."""

    def __init__(self):
        days = np.arange(PERIOD_START, PERIOD_END)
        months = days.astype("datetime64[M]")
        self.month = months.astype(np.int64) % 12 + 1
        self.mmdd = self.month * 100 + (days - months).astype(np.int64) + 1
        self.dow = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        self.doy = (days - days.astype("datetime64[Y]")).astype(np.int64)
        # The clocks go forward at 01:00 on the last Sunday in March: that hour has no incidents.
        spring_forward = (self.month == 3) & (self.dow == 6) & (self.mmdd >= 325)
        self.missing_hours = np.flatnonzero(spring_forward) * 24 + 1
        self.fy_mid = np.array([(np.datetime64(f"{2020 + i}-10-01") - PERIOD_START).astype(int)
                                for i in range(N_YEARS)])
        self._cache: dict = {}

    def _index(self, first: str, last: str) -> slice:
        a = int((np.datetime64(first) - PERIOD_START).astype(int))
        b = int((np.datetime64(last) - PERIOD_START).astype(int)) + 1
        return slice(max(a, 0), max(min(b, N_DAYS), 0))

    def daily(self, key: str, trend: tuple[float, ...] | None = None) -> np.ndarray:
        p = TIME_PROFILES[key]
        amp, peak = p.season
        w = 1 + amp * np.cos(2 * np.pi * (self.doy - peak) / 365.25)
        w = w * np.interp(np.arange(N_DAYS), self.fy_mid, trend or p.trend)
        for first, last, _what, mult in COVID_RESTRICTIONS:
            w[self._index(first, last)] *= mult.get(key, 1.0)
        for first, last, mult in ANNUAL_EVENTS:
            if key in mult:
                a, b = (int(s.replace("-", "")) for s in (first, last))
                w[(self.mmdd >= a) & (self.mmdd <= b)] *= mult[key]
        for first, last, mult in DATED_EVENTS:
            w[self._index(first, last)] *= mult.get(key, 1.0)
        if p.window:
            start, length, decay = p.window
            sl = self._index(start, str(np.datetime64(start) + length - 1))
            window = np.zeros(N_DAYS)
            window[sl] = np.exp(-np.arange(sl.stop - sl.start) / decay)
            w = w * window
        return w

    def cdf(self, key: str, trend: tuple[float, ...] | None = None) -> np.ndarray:
        """Cumulative intensity over the hourly slots of the period."""
        cache_key = (key, trend)
        if cache_key not in self._cache:
            p = TIME_PROFILES[key]
            hours, days = np.asarray(p.hours, float), np.asarray(p.days, float)
            # Hours before 06:00 belong to the previous evening's night out.
            by_dow = np.where(np.arange(24) < 6, days[(np.arange(7) - 1) % 7][:, None],
                              days[:, None]) * hours[None, :]
            hourly = (self.daily(key, trend)[:, None] * by_dow[self.dow]).ravel()
            hourly[self.missing_hours] = 0.0
            self._cache[cache_key] = np.cumsum(hourly)
        return self._cache[cache_key]

    def sample_minutes(self, rng, key: str, n: int, trend=None) -> np.ndarray:
        """Minutes since the period start for n incidents of a profile."""
        cdf = self.cdf(key, trend)
        slot = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
        return slot.clip(0, len(cdf) - 1) * 60 + rng.integers(0, 60, n)


# ---------------------------------------------------------------------------------------------
def _career_lengths(rng, m: int, pool: PersonPool) -> np.ndarray:
    """Incident counts per person (heavy-tailed) summing exactly to m."""
    k = np.ones(m, np.int64)
    rep = rng.random(m) < pool.repeat_share
    # Pareto above 2 (P(K >= k) = (k/2)^-tail), truncated at max_incidents without a pile-up.
    u_min = ((pool.max_incidents + 1) / 2) ** -pool.tail
    u = rng.uniform(u_min, 1.0, rep.sum())
    k[rep] = np.minimum(pool.max_incidents, np.floor(2 * u ** (-1 / pool.tail))).astype(np.int64)
    cs = np.cumsum(k)
    last = int(np.searchsorted(cs, m))
    k = k[: last + 1]
    k[-1] -= cs[last] - m
    return k


def _careers(rng, group: np.ndarray, t: np.ndarray, pool: PersonPool) -> tuple[np.ndarray, int]:
    """Share the incidents of each group (a ward) among people whose incidents cluster in time.

    Each person gets K incidents and a centre in time; their K slots are scattered around the
    centre and matched, in time order, to the group's incidents in time order.
    Returns the person index of each incident and the number of people.
    """
    n = len(group)
    person = np.empty(n, np.int64)
    if n == 0:
        return person, 0
    order = np.lexsort((t, group))
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    next_id = 0
    for s, e in zip(np.r_[0, bounds], np.r_[bounds, n]):
        m = int(e - s)
        k = _career_lengths(rng, m, pool)
        owner = np.repeat(np.arange(len(k)), k)
        centre = rng.random(len(k)) * m
        key = centre[owner] + rng.normal(0, pool.spread_days * m / N_DAYS, m)
        person[order[s:e]] = owner[np.argsort(key, kind="stable")] + next_id
        next_id += len(k)
    return person, next_id


def _person_keys(prefix: str, n_people: int, rng, start: int = 0) -> list[str]:
    """Pseudonymous keys ("V000123") in a random order, so keys reveal nothing; numbered after
    the `start` people of earlier chunks."""
    width = max(6, len(str(start + n_people)))
    return [f"{prefix}{i:0{width}d}" for i in rng.permutation(n_people) + 1 + start]


def _text(labels, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A string column from codes into labels (code -1 gives ""), built in Arrow."""
    labels = [*labels, ""]
    codes = np.where(codes < 0, len(labels) - 1, codes).astype(np.int32)
    column = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(labels, pa.large_string()))
    return pd.array(column.cast(pa.large_string()), dtype="str")


# ---------------------------------------------------------------------------------------------
@dataclass
class _Incidents:
    """Incidents as integer codes, one array per attribute (unsorted)."""
    stream: np.ndarray
    place: np.ndarray
    minute: np.ndarray       # minutes since PERIOD_START
    category: np.ndarray     # index into CATEGORIES
    source: np.ndarray       # index into SOURCES
    victim_pool: np.ndarray  # index into VICTIM_POOLS, -1 for no victim recorded
    offender_pool: np.ndarray  # index into OFFENDER_POOLS, len(OFFENDER_POOLS) for DA, -1 none
    flags: dict[str, np.ndarray]


CATEGORIES = sorted({c for s in STREAMS for c in s.categories})
SOURCES = list(ID_PREFIX)
DA_OFFENDERS = len(OFFENDER_POOLS)  # offender_pool code for a DA victim's abuser


def _stream_counts(total: int) -> np.ndarray:
    kind_counts = dict(zip(("crime", "asb"), _split(total, [CRIMES_PER_YEAR, ASB_PER_YEAR])))
    counts = np.zeros(len(STREAMS), np.int64)
    for kind, kind_total in kind_counts.items():
        idx = [i for i, s in enumerate(STREAMS) if s.kind == kind]
        counts[idx] = _split(int(kind_total), [STREAMS[i].share for i in idx])
    return counts


def _draw_incidents(rng, places: _Places, traits: np.ndarray, ward_trend: np.ndarray,
                    total: int) -> _Incidents:
    """Each stream's incidents: place (hence ward), time, category, source, flags, pools."""
    calendar = _Calendar()
    pools = list(VICTIM_POOLS)
    offender_pools = list(OFFENDER_POOLS)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in (
        "stream", "place", "minute", "category", "source", "victim_pool", "offender_pool",
        *FLAGS)}
    residential = places.ptype == PLACE_TYPES.index("residential")
    for si, (stream, n) in enumerate(zip(STREAMS, _stream_counts(total))):
        n = int(n)
        w = (places.weight * traits[places.ward, WARD_WEIGHT_COLUMNS[stream.wards]]
             * np.asarray(PLACE_AFFINITY[stream.places])[places.ptype])
        for _ in range(5):  # cap the busiest places (each cap lowers the total a little)
            w = np.minimum(w, np.where(residential, MAX_RESIDENTIAL_SHARE, MAX_PLACE_SHARE)
                           * w.sum())
        cdf = np.cumsum(w)
        place = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right").clip(0, len(w) - 1)
        minute = np.empty(n, np.int64)
        if stream.kind == "asb":  # ASB trends differ by ward
            cls = ward_trend[places.ward[place]]
            for c, trend in ASB_TRENDS.items():
                mask = cls == c
                minute[mask] = calendar.sample_minutes(rng, stream.time, int(mask.sum()), trend)
        else:
            minute[:] = calendar.sample_minutes(rng, stream.time, n)
        category = np.array([CATEGORIES.index(c) for c in stream.categories])[
            _choice(rng, list(stream.categories.values()), n)]
        sources = stream.sources or POLICE
        source = np.array([SOURCES.index(s) for s in sources])[
            _choice(rng, list(sources.values()), n)]
        flags = {f: rng.random(n) < stream.flags.get(f, 0.0) for f in FLAGS}
        flags["asb"] = np.full(n, stream.kind == "asb")
        da, hate = flags["domestic_abuse"], flags["hate_crime"]

        pool_name, p_victim = stream.victim
        victim_pool = np.where(rng.random(n) < p_victim,
                               pools.index(pool_name) if pool_name else -1, -1)
        victim_pool = np.where((victim_pool >= 0) & hate, pools.index("hate"), victim_pool)
        victim_pool = np.where((victim_pool >= 0) & da, pools.index("da"), victim_pool)
        pool_name, p_offender = stream.offender
        known = rng.random(n) < np.where(da, DA_OFFENDER_KNOWN, p_offender)
        code = (-1 if pool_name is None else DA_OFFENDERS if pool_name == "da"
                else offender_pools.index(pool_name))
        offender_pool = np.where(known, code, -1)
        offender_pool = np.where(known & da, DA_OFFENDERS, offender_pool)

        for key, value in (("stream", np.full(n, si)), ("place", place), ("minute", minute),
                           ("category", category), ("source", source),
                           ("victim_pool", victim_pool), ("offender_pool", offender_pool),
                           *flags.items()):
            parts[key].append(value)
    a = {k: np.concatenate(v) for k, v in parts.items()}
    return _Incidents(a["stream"], a["place"], a["minute"], a["category"], a["source"],
                      a["victim_pool"], a["offender_pool"], {f: a[f] for f in FLAGS})


@dataclass
class _People:
    index: np.ndarray     # person of each incident, -1 for none
    count: int
    sex: np.ndarray       # per person
    age: np.ndarray
    vulnerable: np.ndarray
    pool: np.ndarray      # per person: index into VICTIM_POOLS (victims only)


def _victims(rng, inc: _Incidents, places: _Places) -> _People:
    """Victims: careers within (pool, ward); DA, ASB and household victims mostly at home.

    Moves incidents to the victim's home place (same ward) as a side effect on `inc.place`.
    """
    pools = list(VICTIM_POOLS)
    n = len(inc.place)
    ward = places.ward[inc.place]
    victim = np.full(n, -1, np.int64)
    pool_of_person, count = [], 0
    for pi, name in enumerate(pools):
        rows = np.flatnonzero(inc.victim_pool == pi)
        person, k = _careers(rng, ward[rows], inc.minute[rows], VICTIM_POOLS[name])
        victim[rows] = person + count
        pool_of_person.append(np.full(k, pi))
        count += k
    pool_of_person = np.concatenate(pool_of_person)

    has = victim >= 0
    homelike = np.isin(places.ptype[inc.place],
                       [PLACE_TYPES.index("street"), PLACE_TYPES.index("residential")])
    home_of = np.full(count, -1, np.int64)
    home_of[victim[has & homelike]] = inc.place[has & homelike]
    home = np.where(has, home_of[victim.clip(0)], -1)
    home_share = np.array([VICTIM_POOLS[p].home_share for p in pools])[inc.victim_pool.clip(0)]
    inc.place = np.where((home >= 0) & (rng.random(n) < home_share), home, inc.place)

    sex = np.empty(count, np.int64)
    age = np.empty(count, np.int64)
    vulnerable = np.empty(count, bool)
    for pi, name in enumerate(pools):
        idx = np.flatnonzero(pool_of_person == pi)
        pool = VICTIM_POOLS[name]
        sex[idx] = _choice(rng, pool.sex, len(idx))
        age[idx] = _choice(rng, pool.age, len(idx))
        vulnerable[idx] = rng.random(len(idx)) < pool.vulnerable
    return _People(victim, count, sex, age, vulnerable, pool_of_person)


def _offenders(rng, inc: _Incidents, places: _Places, victims: _People) -> _People:
    """Offenders: careers within (pool, ward); a DA victim's abuser is the same person throughout."""
    n = len(inc.place)
    ward = places.ward[inc.place]
    offender = np.full(n, -1, np.int64)
    ages, count = [], 0
    for pi, (name, pool) in enumerate(OFFENDER_POOLS.items()):
        rows = np.flatnonzero(inc.offender_pool == pi)
        person, k = _careers(rng, ward[rows], inc.minute[rows], pool)
        offender[rows] = person + count
        ages.append(_choice(rng, pool.age, k))
        count += k
    # Abusers: one per DA victim, some abusing more than one victim.
    da_victims = np.flatnonzero(victims.pool == list(VICTIM_POOLS).index("da"))
    abuser = np.arange(len(da_victims))
    serial = rng.random(len(da_victims)) < SERIAL_DA_PERPETRATORS
    abuser[serial] = rng.integers(0, max(len(da_victims), 1), serial.sum())
    _, abuser = np.unique(abuser, return_inverse=True)
    n_abusers = int(abuser.max()) + 1 if len(abuser) else 0
    abuser_of = np.full(victims.count, -1, np.int64)
    abuser_of[da_victims] = abuser + count
    da_rows = inc.offender_pool == DA_OFFENDERS
    with_victim = da_rows & (victims.index >= 0)
    offender[with_victim] = abuser_of[victims.index[with_victim]]
    lone = np.flatnonzero(da_rows & (victims.index < 0))
    offender[lone] = count + n_abusers + np.arange(len(lone))
    ages.append(_choice(rng, DA_OFFENDER_AGE, n_abusers + len(lone)))
    count += n_abusers + len(lone)
    empty = np.empty(0, np.int64)
    return _People(offender, count, empty, np.concatenate(ages), empty.astype(bool), empty)


def _hate_strands(rng, inc: _Incidents, victims: _People) -> tuple[np.ndarray, list[str]]:
    """Codes into strand labels per incident (-1 none); a repeat victim keeps one strand mostly."""
    n = len(inc.place)
    hate = inc.flags["hate_crime"]
    strand = np.full(n, -1, np.int64)
    for si, stream in enumerate(STREAMS):
        rows = np.flatnonzero(hate & (inc.stream == si))
        strand[rows] = _choice(rng, HATE_SPIKE_STRANDS.get(stream.name, HATE_STRAND_MIX),
                               len(rows))
    with_victim = hate & (victims.index >= 0)
    strand_of = np.full(victims.count, -1, np.int64)
    strand_of[victims.index[with_victim]] = strand[with_victim]
    same = with_victim & (rng.random(n) < SAME_STRAND_FOR_REPEATS)
    strand = np.where(same, strand_of[victims.index.clip(0)], strand)
    # A second strand for a few; race is most often paired with religion.
    offset = 1 + _choice(rng, (0.6, 0.15, 0.15, 0.1), n)
    second = np.where(hate & (rng.random(n) < SECOND_STRAND_SHARE),
                      np.where(strand == 0, 1, (strand + offset) % len(HATE_STRANDS)), -1)
    k = len(HATE_STRANDS)
    labels = [";".join(HATE_STRANDS[j] for j in sorted({p, q} - {-1}))
              for p in range(-1, k) for q in range(-1, k)]
    return np.where(strand >= 0, (strand + 1) * (k + 1) + second + 1, -1), labels


def _outcomes(rng, inc: _Incidents, has_offender: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes into outcome labels: by kind, stream and whether an offender is known."""
    n = len(inc.place)
    special = np.array([s.outcomes or "" for s in STREAMS], dtype=object)[inc.stream]
    table = np.where(inc.flags["asb"], "asb", np.where(special != "", special, np.where(
        has_offender, "crime_known", "crime_unknown")))
    labels = sorted({o for t in OUTCOMES.values() for o in t} | set(OPEN_OUTCOME.values()))
    outcome = np.empty(n, np.int64)
    for key, mix in OUTCOMES.items():
        mask = table == key
        outcome[mask] = np.array([labels.index(o) for o in mix])[
            _choice(rng, list(mix.values()), int(mask.sum()))]
    open_case = ((inc.minute >= (N_DAYS - RECENT_DAYS) * 1440) & (table != "fire")
                 & (rng.random(n) < OPEN_SHARE))
    outcome[open_case] = np.where(inc.flags["asb"][open_case], labels.index(OPEN_OUTCOME["asb"]),
                                  labels.index(OPEN_OUTCOME["crime"]))
    return outcome, labels


def chunk_sizes(total: int, chunk_rows: int = CHUNK_ROWS) -> list[int]:
    """How `generate_chunks` splits `total` rows: as few near-equal chunks as hold at most
    `chunk_rows` each (the default demo is one chunk)."""
    if chunk_rows <= 0:
        raise ValueError("chunk_rows must be a positive number of incidents")
    return [int(n) for n in _split(total, np.ones(max(1, -(-total // chunk_rows))))]


def chunk_rng(seed: int, part: int, chunk: int) -> np.random.Generator:
    """The random numbers of one chunk's `part` (0 here, 1 and 2 in cdp.demo_records); chunk 0
    draws as an unchunked build always has, so the default demo is what it was."""
    return np.random.default_rng([seed, part] if chunk == 0 else [seed, part, chunk])


def generate_chunks(wards: gpd.GeoDataFrame, seed: int = 42, rows: int | None = None,
                    chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """`generate`'s rows a chunk at a time (`chunk_sizes`), so memory stays bounded whatever the size.

    The places (and their premises) are drawn once for the whole size; each chunk then draws its
    share of every stream over the whole period, with its own people, from its own seed (chunk 0
    continues the places' random numbers, as an unchunked build). Incident ids and person keys
    continue from one chunk to the next, so they stay unique; rows are in time order within a chunk.
    """
    total = DEFAULT_ROWS if rows is None else int(rows)
    if total <= 0:
        raise ValueError("rows must be a positive number of incidents")
    if wards.crs is not None and wards.crs.to_epsg() != 4326:
        wards = wards.to_crs(4326)
    wards = wards.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    traits = np.array([_TRAITS_BY_KEY.get(_ward_key(n), DEFAULT_TRAITS) for n in wards.ward_name])
    ward_trend = np.array([_TREND_BY_KEY.get(_ward_key(n), "flat") for n in wards.ward_name])
    places = _build_places(rng, wards, int(np.clip(total // INCIDENTS_PER_PLACE, MIN_PLACES,
                                                   MAX_PLACES)))
    numbered = _Numbered({name: 0 for name in SOURCES})
    for chunk, n in enumerate(chunk_sizes(total, chunk_rows)):
        yield _chunk(rng if chunk == 0 else chunk_rng(seed, 0, chunk), places, traits, ward_trend,
                     n, numbered)


@dataclass
class _Numbered:
    """What earlier chunks numbered: incidents per source, victims, offenders."""
    incidents: dict[str, int]
    victims: int = 0
    offenders: int = 0


def generate(wards: gpd.GeoDataFrame, seed: int = 42, rows: int | None = None,
             chunk_rows: int = CHUNK_ROWS) -> pd.DataFrame:
    """Synthetic partner extract v1 rows for `wards` (ward_code, ward_name, geometry, EPSG:4326).

    rows=None gives the realistic volume (about 52,500 incidents a year for five plan years);
    rows=N scales every volume so that exactly N rows are returned. The same seed, rows and
    chunk_rows give identical rows. Every chunk of `generate_chunks` at once: for sizes that fit
    in memory (build_demo writes one chunk at a time).
    """
    frames = list(generate_chunks(wards, seed=seed, rows=rows, chunk_rows=chunk_rows))
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _chunk(rng, places: _Places, traits: np.ndarray, ward_trend: np.ndarray, total: int,
           numbered: _Numbered) -> pd.DataFrame:
    """One chunk of `total` incidents on `places`; advances `numbered`."""
    inc = _draw_incidents(rng, places, traits, ward_trend, total)
    victims = _victims(rng, inc, places)
    offenders = _offenders(rng, inc, places, victims)
    strand, strand_labels = _hate_strands(rng, inc, victims)
    weapon = np.where(inc.flags["weapon"], _choice(rng, WEAPON_MIX, total), -1)
    outcome, outcome_labels = _outcomes(rng, inc, offenders.index >= 0)

    # Rows in time order; ids number each source's incidents in time order.
    order = np.argsort(inc.minute, kind="stable")
    source = inc.source[order]
    incident_id = np.empty(total, dtype=object)
    for si, name in enumerate(SOURCES):
        idx = np.flatnonzero(source == si)
        first = numbered.incidents[name] + 1
        incident_id[idx] = [f"{ID_PREFIX[name]}{j:07d}" for j in range(first, first + len(idx))]
        numbered.incidents[name] += len(idx)
    stamps = (PERIOD_START.astype("datetime64[s]")
              + (inc.minute[order] * 60).astype("timedelta64[s]"))
    place = inc.place[order]
    victim, offender = victims.index[order], offenders.index[order]
    v = victim.clip(0)
    disability = np.isin(strand[order], [i for i, s in enumerate(strand_labels)
                                         if "disability" in s])
    vulnerable = np.where(victim >= 0, (victims.vulnerable[v] | disability).astype(np.int64), -1)
    yes_no = ["false", "true"]
    victim_keys = _person_keys("V", victims.count, rng, numbered.victims)
    offender_keys = _person_keys("O", offenders.count, rng, numbered.offenders)
    numbered.victims += victims.count
    numbered.offenders += offenders.count
    data = {
        "incident_id": pd.array(pa.array(incident_id, pa.large_string()), dtype="str"),
        "source": _text(SOURCES, source),
        "occurred_at": pd.array(pa.array(np.datetime_as_string(stamps, unit="s")), dtype="str"),
        "category": _text(CATEGORIES, inc.category[order]),
        "longitude": places.lon[place],
        "latitude": places.lat[place],
        # Police systems give the police.uk style "On or near ..."; partner systems the street.
        "location": _text([f"On or near {x}" for x in places.location] + list(places.location),
                          place + len(places.location) * (source != SOURCES.index("police"))),
        "premises_id": _text(places.premises_id, place),
        "premises_name": _text(places.premises_name, place),
        "premises_type": _text(("",) + PLACE_TYPES[1:], places.ptype[place]),
        "victim_id": _text(victim_keys, victim),
        "offender_id": _text(offender_keys, offender),
        "victim_age_band": _text(AGE_BANDS, np.where(victim >= 0, victims.age[v], -1)),
        "victim_sex": _text(SEXES, np.where(victim >= 0, victims.sex[v], -1)),
        "victim_vulnerable": _text(yes_no, vulnerable),
        "offender_age_band": _text(AGE_BANDS, np.where(offender >= 0,
                                                       offenders.age[offender.clip(0)], -1)),
    }
    for f in FLAGS:
        data[f"flag_{f}"] = _text(yes_no, inc.flags[f][order].astype(np.int64))
    data["hate_strand"] = _text(strand_labels, strand[order])
    data["weapon_type"] = _text(WEAPON_TYPES, weapon[order])
    data["outcome"] = _text(outcome_labels, outcome[order])
    return pd.DataFrame(data, columns=COLUMNS)


# ---------------------------------------------------------------------------------------------
def meta_value(seed: int) -> str:
    return f"Synthetic demo data (seed {seed}) - not real incidents"


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write an extract as CSV quickly (DuckDB), blanks as empty fields."""
    text_cols = [c for c in frame.columns if c not in ("longitude", "latitude")]
    select = ", ".join(
        f"nullif(\"{c}\", '') AS \"{c}\"" if c in text_cols else f"\"{c}\"" for c in frame.columns)
    with duckdb.connect() as con:
        con.register("extract_frame", frame)
        target = Path(path).as_posix().replace("'", "''")
        con.execute(f"COPY (SELECT {select} FROM extract_frame) TO '{target}' "
                    "(HEADER, DELIMITER ',')")


def append_csv(frame: pd.DataFrame, path: Path) -> None:
    """`write_csv`, or its rows added to the end of the file `path` if it exists (no second header)."""
    if not path.exists():
        write_csv(frame, path)
        return
    piece = path.with_name(path.stem + ".chunk.csv")
    write_csv(frame, piece)
    with open(piece, "rb") as rows, open(path, "ab") as out:
        rows.readline()  # its header
        shutil.copyfileobj(rows, out, 1 << 20)
    piece.unlink()


class DemoStoreError(ValueError):
    """The store already holds real incidents: demo data must never be mixed with them."""


@dataclass(frozen=True)
class DemoSummary:
    """What a demo build loaded (see `build_demo`)."""
    seed: int
    meta: str
    rows_generated: int        # partner extract rows
    rows_loaded: int           # of them, loaded
    police_uk_rows: int        # police.uk street rows (the force's last months and British Transport Police)
    superseded: int            # police.uk rows the force's own extract supersedes
    outside_area: int          # stored, not counted: outside the wards
    unlocated: int             # stored, not counted: no location
    rows_replaced: int         # the store's earlier demo incidents
    reference_files: str

    @property
    def incidents(self) -> int:
        """Incidents now stored: the extract's and police.uk's."""
        return self.rows_loaded + self.police_uk_rows

    def sentence(self, where: str) -> str:
        from .demo_records import FORCE, TRANSPORT_FORCE
        return (f"Built synthetic demo data (seed {self.seed}) in {where}: {self.rows_loaded:,} partner "
                f"extract incidents and {self.police_uk_rows:,} police.uk street rows ({FORCE}'s latest "
                f"months, {self.superseded:,} of them superseded by its own extract, and "
                f"{TRANSPORT_FORCE}); {self.outside_area:,} outside the area's wards and "
                f"{self.unlocated:,} without a location are kept but not counted. "
                + (f"It replaced the {self.rows_replaced:,} demo incidents the store held. "
                   if self.rows_replaced else "")
                + f"Synthetic reference files: {self.reference_files}.")


def build_demo(con: duckdb.DuckDBPyConnection, wards: gpd.GeoDataFrame, seed: int = 42,
               rows: int | None = None, progress: Callable[[str, float], None] | None = None,
               wards_origin: str | None = None, chunk_rows: int = CHUNK_ROWS) -> DemoSummary:
    """Generate demo incidents, record them (cdp.demo_records: the partner extract with its gaps
    and a police.uk share), load both through the real importers in one transaction, and mark
    the store synthetic.

    A store that already holds demo data is rebuilt (its incidents are replaced, so another seed
    or size never mixes with the last); a store holding real incidents raises DemoStoreError. The
    first real import into a demo store removes the demo data (see cdp.ingest.ingest).
    `wards_origin` says where the boundaries came from (shown on the Data page and by `status`).
    The demo's synthetic reference files (reoffending, treatment, CCTV, IOM cohort) are written
    too (cdp.demo_reference).
    The incidents are generated, recorded and written `chunk_rows` at a time (`generate_chunks`),
    and the importer streams its files, so memory stays bounded whatever `rows` is.
    """
    from cdp import demo_records
    from cdp.ingest import ingest_demo
    from cdp.store import incident_count, synthetic_note

    existing = incident_count(con)
    if existing and not synthetic_note(con):
        raise DemoStoreError(
            f"this store already holds {existing:,} incidents that are not demo data; build the "
            "demo in a separate store (--db) so synthetic and real incidents never mix")
    total = DEFAULT_ROWS if rows is None else int(rows)
    chunks = len(chunk_sizes(total, chunk_rows))
    if progress:
        progress("Generating synthetic demo incidents", 0.0)
    generated = transport = 0
    with tempfile.TemporaryDirectory(prefix="cdp-demo-") as tmp:
        csv_path = Path(tmp) / f"synthetic-demo-seed{seed}.csv"
        street_files = demo_records.PoliceUkFiles(Path(tmp))
        # A chunk at a time: generated, recorded, its police.uk share drawn, written, let go.
        for chunk, frame in enumerate(generate_chunks(wards, seed=seed, rows=total,
                                                           chunk_rows=chunk_rows)):
            frame = demo_records.as_recorded(frame, wards, seed, chunk)
            share = demo_records.police_uk_share(frame, seed, len(frame), DEFAULT_ROWS, chunk, transport)
            transport += int((share["Reported by"] == demo_records.TRANSPORT_FORCE).sum())
            street_files.add(share)
            append_csv(frame, csv_path)
            generated += len(frame)
            del frame, share
            if progress:
                progress(f"Generated and wrote {generated:,} of {total:,} synthetic incidents",
                         GENERATING_SHARE * (chunk + 1) / chunks)
        street = street_files.close()
        meta = meta_value(seed)
        results = ingest_demo(con, {"partner": [csv_path], "police_uk": street}, wards=wards,
                              wards_origin=wards_origin, synthetic=meta, progress=(
            (lambda message, fraction: progress(
                message, GENERATING_SHARE + (0.95 - GENERATING_SHARE) * fraction)) if progress else None))
    if progress:
        progress("Writing the demo's synthetic reference files", 0.96)
    from cdp import demo_reference
    files = demo_reference.write_all(con)
    if progress:
        progress("Synthetic demo data loaded", 1.0)
    from cdp.counting import NOT_COUNTED_SQL, NotCounted
    left_out = NotCounted(*con.execute(f"SELECT {NOT_COUNTED_SQL} FROM incidents").fetchall()[0])
    partner, police_uk = results
    return DemoSummary(seed=seed, meta=meta, rows_generated=generated, rows_loaded=partner.rows_loaded,
                       police_uk_rows=police_uk.rows_loaded, superseded=left_out.superseded,
                       outside_area=left_out.outside_area, unlocated=left_out.unlocated,
                       rows_replaced=existing, reference_files=str(files))
