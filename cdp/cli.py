"""Command line: `python -m cdp ingest|refresh|export|status|demo|copy|audit|bench` (see --help on each)."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb

from . import config, exports, geography, lake, queries, store
from .priorities import PRIORITIES, PRIORITY_KEYS

WIDTH = 100  # what `status` fits in


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default, unless it has none (or says its own)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return super()._get_help_string(action)


class _Progress:
    """Progress lines on stderr, once a run has taken more than a second."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.last = ""

    def __call__(self, message: str, fraction: float) -> None:
        if time.monotonic() - self.started > 1.0 and message != self.last:
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)
            self.last = message


def _location(args) -> store.Location:
    return store.locate(args.store, db=args.db)


def _open(args, write: bool = False, create: bool = False) -> duckdb.DuckDBPyConnection:
    """The store for this command: read-only for reports (beside the dashboard and other readers),
    read-write for loads; either waits its turn (`--wait`), saying once what holds the store.
    Only a load that may start a store (`create`) opens one that does not exist yet: any other
    command says so (a mistyped --db never leaves a new empty store behind)."""
    where = _location(args)
    if not create and not store.exists(where):
        raise store.StoreError(f"there is no store at {where}: check --store/--db (or $CDP_STORE, "
                               "$CDP_DB); `ingest` or `demo` starts a new one")
    return store.connect(where, read_only=not write, wait=args.wait,
                         waiting=lambda line: print(line, file=sys.stderr, flush=True))


def _retry_line(conflict: store.Conflict) -> None:
    print("another process wrote the store at the same time and went first: nothing of this run "
          "was kept; running it again on the new data", file=sys.stderr, flush=True)


def _limits(args) -> "Limits":
    from .ingest import Limits
    default = Limits()
    inflated = int(args.max_inflated_mb * (1 << 20)) if args.max_inflated_mb else default.max_inflated_bytes
    return Limits(
        max_inflated_bytes=inflated,
        max_ratio=args.max_zip_ratio or default.max_ratio,
        max_members=args.max_zip_members or default.max_members,
        max_rows_per_file=args.max_rows_per_file or default.max_rows_per_file)


def cmd_ingest(args) -> int:
    from .ingest import ImportFailed, RejectsPathError, ingest
    if args.rejects and not args.skip_bad_rows:
        print("error: --rejects is where --skip-bad-rows writes the rejected rows: give both, or neither",
              file=sys.stderr)
        return 2
    dataset = "police_uk" if args.kind == "police-uk" else "partner"
    con = _open(args, write=True, create=True)
    progress = _Progress()  # one for the command: a run again after a lost race goes on reporting
    try:
        result = store.retrying(lambda: ingest(
            con, dataset, args.paths, boundaries=args.boundaries, skip_bad_rows=args.skip_bad_rows,
            rejects_path=args.rejects, progress=progress, limits=_limits(args)), on_retry=_retry_line)
    except RejectsPathError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ImportFailed, geography.BoundaryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    print(result.summary())
    if result.boundaries_changed:
        print(f"Ward boundaries now in use: {result.boundaries}")
    return 0


def cmd_refresh(args) -> int:
    from .refresh import RefreshFailed, refresh_from_api
    from .refresh.archive import refresh_from_archive
    try:
        if args.since:
            queries.parse_month(args.since, "--since")
        if args.months is not None and args.months < 1:
            raise ValueError(f"--months {args.months}: give a number of months, 1 or more")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    options = dict(boundaries=args.boundaries, months=args.months, since=args.since, replace=args.replace,
                   dry_run=args.dry_run,
                   progress=lambda message, fraction: print(f"[{fraction:4.0%}] {message}", file=sys.stderr,
                                                            flush=True))
    # A refresh starts a new store only for wards it is given (--boundaries, CDP_BOUNDARIES); a
    # dry run of one asks as if into an empty store, and leaves none behind.
    given_wards = config.boundaries_path(args.boundaries) is not None
    with tempfile.TemporaryDirectory(prefix="cdp-dry-run-") as scratch:
        if args.dry_run and given_wards and not store.exists(_location(args)):
            con = store.connect(Path(scratch) / "empty.duckdb")
        else:
            con = _open(args, write=not args.dry_run, create=given_wards and not args.dry_run)
        try:
            if args.archive:
                result = store.retrying(lambda: refresh_from_archive(con, args.archive, **options),
                                        on_retry=_retry_line)
            else:  # a month that lost a race is fetched again: a refresh resumes where it stopped
                result = store.retrying(lambda: refresh_from_api(con, **options), on_retry=_retry_line)
        except RefreshFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            con.close()
    print(result.summary())
    return 0


def cmd_export_ward_counts(args) -> int:
    try:
        start = queries.parse_month(args.from_month, "--from") if args.from_month else None
        end = queries.parse_month(args.to_month, "--to") if args.to_month else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    con = _open(args)
    try:
        if not con.execute("SELECT count(*) FROM wards").fetchall()[0][0]:
            print("error: the store has no ward boundaries yet: ingest some data first", file=sys.stderr)
            return 1
        frame = queries.ward_counts(con, priority=args.priority, crime_type=args.crime_type,
                                    start=start, end=end)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        con.close()
    sys.stdout.write(exports.csv_bytes(frame).decode("utf-8"))  # ward names come from a boundary file
    return 0


def _short(text: str | Path | None, width: int = 60) -> str:
    """A path as short as it can be read: relative to here, or ~ for the home folder, and its
    end only when still longer than `width`."""
    text = str(text or "")
    if text.startswith("/"):
        path = Path(text)
        for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
            try:
                text = prefix + str(path.relative_to(base))
                break
            except ValueError:
                continue
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _files(names: str, width: int) -> str:
    """An import's files (joined by '; ') in at most `width` characters: one name, or how many."""
    files = [Path(n).name for n in str(names).split("; ") if n]
    text = files[0] if len(files) == 1 else f"{len(files)} files: {files[0]} … {files[-1]}"
    return text if len(text) <= width else text[:width - 1] + "…"


def _table(frame, columns: dict[str, str]) -> str:
    """`frame`'s `columns` (name -> heading) as text, whole numbers with thousands separators."""
    shown = frame[list(columns)].rename(columns=columns).copy()
    for name in shown.columns:
        if shown[name].dtype.kind in "iuf":
            shown[name] = shown[name].fillna(0).astype("int64").map("{:,}".format)
    return shown.to_string(index=False)


def cmd_status(args) -> int:
    con = _open(args)
    try:
        info = queries.status(con)
    finally:
        con.close()
    print(f"Store: {_short(_location(args), WIDTH - 7)}")
    if info["synthetic_demo"]:
        print(f"*** {info['synthetic_demo']} ***")
    if not info["rows"]:
        print("No incidents loaded. Load data with `python -m cdp ingest` or build the demo with "
              "`python -m cdp demo`.")
        return 0
    for line in (f"Incidents stored: {info['rows']:,}; counted: {info['counted']:,} ({info['crimes']:,} "
                 f"crimes, {info['asb_incidents']:,} ASB incidents; never added together)",
                 info["not_counted"].sentence(),
                 f"Months: {info['first_month']:%Y-%m} to {info['last_month']:%Y-%m}",
                 "Police records: " + ("; ".join(r.describe() for r in info["force_extracts"])
                                       or "no partner source supersedes police.uk"),
                 f"Boundaries: {info['wards']} wards from {_short(info['boundary_source'], WIDTH - 30)}"):
        if line:
            print(textwrap.fill(line, WIDTH, subsequent_indent="  "))
    sources = info["sources"].copy()
    sources["dataset"] = sources["dataset"].map({"police_uk": "police.uk"}).fillna(sources["dataset"])
    sources["source"] = sources["source"].str.slice(0, 24)
    sources["months"] = [f"{a:%Y-%m} to {b:%Y-%m}" for a, b in zip(sources["first_month"], sources["last_month"])]
    print("\nSources:")
    print(_table(sources, {"dataset": "dataset", "source": "source", "rows": "stored", "counted": "counted",
                           "outside_area": "outside", "unlocated": "unlocated",
                           "superseded": "superseded", "months": "months"}))
    print("\nCounted per priority:")
    print(_table(info["priorities"], {"priority": "priority", "label": "name", "counted": "counted"}))
    print("\nLast imports:")
    for row in info["imports"].itertuples():
        line = (f"#{row.import_id} {row.finished_at:%Y-%m-%d %H:%M} {row.dataset}: {row.rows_loaded:,} rows"
                + (f" ({row.rows_rejected:,} rejected)" if row.rows_rejected else "")
                + (f" by {row.imported_by}" if row.imported_by else "") + " from ")
        print(line + _files(row.files, WIDTH - len(line)))
    return 0


def cmd_recount(args) -> int:
    con = _open(args, write=True)
    try:
        def recount() -> None:
            with store.transaction(con):
                store.refresh_derived(con)
        store.retrying(recount, on_retry=_retry_line)
        info = queries.status(con)
    finally:
        con.close()
    print("Coverage and superseded rows rebuilt: "
          + ("; ".join(r.describe() for r in info["force_extracts"]) or "no partner source supersedes police.uk")
          + f". Counted: {info['counted']:,} of {info['rows']:,} stored incidents.")
    return 0


def cmd_demo(args) -> int:
    from .demo import DemoStoreError, build_demo
    con = _open(args, write=True, create=True)
    progress = _Progress()
    try:
        wards, origin = geography.resolve_boundaries(con, args.boundaries)
        summary = store.retrying(lambda: build_demo(con, wards, seed=args.seed, rows=args.rows,
                                                    progress=progress, wards_origin=origin),
                                 on_retry=_retry_line)
    except (geography.BoundaryError, DemoStoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    print(summary.sentence(str(_location(args))))
    return 0


def cmd_copy(args) -> int:
    source = _open(args)
    try:
        target = store.connect(args.target, wait=args.wait,
                               waiting=lambda line: print(line, file=sys.stderr, flush=True))
        try:
            held = store.incident_count(target)
            if held:
                print(f"error: {store.locate(args.target)} already holds {held:,} incidents: copy "
                      "into a new, empty store", file=sys.stderr)
                return 1
            tables = store.copy_tables(source, target)
            copied = store.incident_count(target)
        finally:
            target.close()
    finally:
        source.close()
    print(f"Copied {_location(args)} into {store.locate(args.target)}: {copied:,} incidents; "
          f"tables {', '.join(tables)}")
    return 0


def cmd_audit_verify(args) -> int:
    from . import audit
    result = audit.verify(Path(args.log) if args.log else None)
    print(result.report(), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


class _Parser(argparse.ArgumentParser):
    """Every command's parser shows the defaults in its help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cdp", description=__doc__, formatter_class=_Help)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser,
                                     help="what to do (python -m cdp COMMAND --help for its options)")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--store", help="the store: a DuckDB file, or a DuckLake catalog "
                                       "ducklake:postgres:<libpq connection string> or "
                                       "ducklake:sqlite:<file>, its data files in $CDP_DATA_PATH "
                                       "(default: $CDP_STORE, else $CDP_DB, else "
                                       f"{config.DATA_DIR / 'cdp.duckdb'})")
    where.add_argument("--db", metavar="FILE", help="the DuckDB store file (as --store FILE)")
    where.add_argument("--wait", type=float, default=store.DEFAULT_WAIT, metavar="SECONDS",
                       help="how long to wait while another process holds the store (default: %(default).0f)")

    ingest = commands.add_parser("ingest", parents=[where], help="load police.uk or partner files into the store",
                                 description="Load files in one transaction: on any problem nothing is loaded.")
    ingest.add_argument("kind", choices=["police-uk", "partner"],
                        help="police-uk: street CSVs, folders, archive zips; partner: extract v1 CSVs")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="files, folders (searched for the kind's files) or archive zips")
    ingest.add_argument("--boundaries", help="ward boundary file (GeoPackage, GeoJSON, Shapefile; "
                                             "default: $CDP_BOUNDARIES or the store's set)")
    ingest.add_argument("--skip-bad-rows", action="store_true",
                        help="load the good rows and write the rejected ones, with reasons, to a CSV")
    ingest.add_argument("--rejects", help="where --skip-bad-rows writes rejected rows: a new file, readable "
                                          "by you only, outside the input folders (default: "
                                          "rejected-rows-<time>.csv here); its writing is audited")
    limits = ingest.add_argument_group(
        "limits", "Bounds on what one import reads, so a small archive cannot swell into an outage. "
                  "Raise them for real large files; the Data page's upload keeps the defaults.")
    from .ingest import Limits
    default = Limits()
    limits.add_argument("--max-rows-per-file", type=int, metavar="N",
                        help=f"rows in one CSV (default {default.max_rows_per_file:,})")
    limits.add_argument("--max-inflated-mb", type=float, metavar="MB",
                        help=f"street files inflated from archives, all together (default "
                             f"{default.max_inflated_bytes >> 20:,} MB)")
    limits.add_argument("--max-zip-ratio", type=float, metavar="R",
                        help=f"inflated / compressed size of an archive member (default {default.max_ratio:,.0f})")
    limits.add_argument("--max-zip-members", type=int, metavar="N",
                        help=f"entries in one archive (default {default.max_members:,})")
    ingest.set_defaults(run=cmd_ingest)

    refresh = commands.add_parser("refresh", help="fetch the months the store lacks from police.uk",
                                  description="Fetch what the store lacks from a source (police-uk).")
    refresh_what = refresh.add_subparsers(dest="source", required=True, metavar="SOURCE", parser_class=_Parser,
                                          help="where from")
    police = refresh_what.add_parser(
        "police-uk", parents=[where], help="police.uk street crimes for the area of the loaded wards",
        description="Fetch from the police.uk API ($CDP_POLICE_API, default https://data.police.uk/api) "
                    "every month the store lacks, for the area of the loaded ward boundaries, and import "
                    "each month in one transaction through the same checks as files. A failure leaves "
                    "the month being fetched out of the store and exits 1 with the reason; running "
                    "again resumes. With --archive, read a downloaded police.uk archive zip instead.")
    police.add_argument("--archive", type=Path, metavar="FILE.zip",
                        help="a police.uk archive (data.police.uk/data/archive/YYYY-MM.zip) instead of "
                             "the API (default: the API)")
    police.add_argument("--months", type=int, metavar="N", help="only the latest N months police.uk holds "
                                                                "(default: every month it holds)")
    police.add_argument("--since", metavar="YYYY-MM", help="only months from YYYY-MM on (default: every month)")
    police.add_argument("--replace", action="store_true",
                        help="fetch months the store already holds again, replacing them (police.uk "
                             "republishes months as outcomes are updated)")
    police.add_argument("--dry-run", action="store_true", help="say what would be fetched; change nothing")
    police.add_argument("--boundaries", help="ward boundary file (default: the store's set, else as for "
                                             "ingest); a refresh starts a new store only when given the wards here or in $CDP_BOUNDARIES")
    police.set_defaults(run=cmd_refresh)

    export = commands.add_parser("export", help="export aggregates as CSV on stdout",
                                 description="Export aggregates as CSV on stdout (ward-counts).")
    what = export.add_subparsers(dest="what", required=True, metavar="WHAT", parser_class=_Parser,
                                 help="which aggregate")
    wc = what.add_parser("ward-counts", parents=[where], help="incidents per ward: ward_code,ward_name,count",
                         description="One row for every ward of the loaded boundaries (0 where none); "
                                     "months inclusive.")
    choice = wc.add_mutually_exclusive_group(required=True)
    choice.add_argument("--priority", choices=PRIORITY_KEYS, type=str.lower, metavar="KEY",
                        help="a priority of the plan: " + "; ".join(f"{p.key} ({p.label})" for p in PRIORITIES))
    choice.add_argument("--crime-type", help="a police.uk crime type or partner category, in any case, "
                                             "e.g. 'Burglary' or 'noise'")
    wc.add_argument("--from", dest="from_month", metavar="YYYY-MM", help="the first month (default: the first held)")
    wc.add_argument("--to", dest="to_month", metavar="YYYY-MM", help="the last month (default: the last held)")
    wc.set_defaults(run=cmd_export_ward_counts)

    status = commands.add_parser("status", parents=[where], help="what the store holds",
                                 description="What the store holds and what of it is counted: sources, "
                                             "months, priorities, boundaries and the last imports.")
    status.set_defaults(run=cmd_status)

    recount = commands.add_parser(
        "recount", parents=[where], help="re-apply what is counted (after changing CDP_FORCE_EXTRACTS)",
        description="Rebuild coverage per source and month and re-mark superseded police.uk rows "
                    "under the current CDP_FORCE_EXTRACTS (every import does this too).")
    recount.set_defaults(run=cmd_recount)

    demo = commands.add_parser("demo", parents=[where], help="build synthetic demo data for Nottingham's wards",
                               description="Generate synthetic incidents (nothing in them is real) and "
                                           "load them through the real importers: a partner extract, with "
                                           "some incidents outside the wards, some without a location and "
                                           "some dated to the day or month only, and a police.uk share "
                                           "(the force's latest three months, which its extract "
                                           "supersedes, and British Transport Police). Rebuilds a demo "
                                           "store; refuses a store holding real data.")
    demo.add_argument("--seed", type=int, default=42, help="the random seed: the same seed and rows "
                                                          "give the same data")
    demo.add_argument("--rows", type=int, default=None, metavar="N",
                      help="partner extract rows (default: realistic volumes for April 2020 to March "
                           "2025, 262,500)")
    demo.add_argument("--scale", dest="rows", type=int, help=argparse.SUPPRESS)  # the old name of --rows
    demo.add_argument("--boundaries", help="ward boundary file (default as for ingest)")
    demo.set_defaults(run=cmd_demo)

    copy = commands.add_parser("copy", parents=[where], help="copy the whole store into a new one",
                               description="Copy every table of the store (--store/--db) into TARGET, "
                                           "an empty store: e.g. the embedded file into a new DuckLake.")
    copy.add_argument("target", metavar="TARGET", help="a DuckDB file or ducklake:... (data files "
                                                       "in $CDP_DATA_PATH)")
    copy.set_defaults(run=cmd_copy)

    audit = commands.add_parser("audit", help="check the audit log of person-level views and exports",
                                description="Check the audit log of person-level views and exports (verify).")
    audit_what = audit.add_subparsers(dest="what", required=True, metavar="WHAT", parser_class=_Parser,
                                      help="which check")
    verify = audit_what.add_parser(
        "verify", help="check the hash chain and name the first broken entry",
        description="Walk the audit log's hash chain: every entry must follow the one before it and "
                    "match its own hash (an HMAC under $CDP_AUDIT_KEY when that is set). Exits 1 and "
                    "names the first broken entry when it does not.")
    verify.add_argument("--log", help=f"the audit log (default: $CDP_AUDIT_LOG or "
                                      f"{config.DATA_DIR / 'audit.log'})")
    verify.set_defaults(run=cmd_audit_verify)

    # Listed for --help; main() hands its arguments to the app layer's benchmark.
    commands.add_parser("bench", help="measure pages, queries, ingest and memory at --rows N incidents "
                                      "(python -m cdp bench --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # the reader stopped early (`status | head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141  # as a shell reports a command ended by SIGPIPE


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        # The benchmark drives the Streamlit app, so it lives in the app layer, not in this package.
        from app.bench import main as bench_main
        return bench_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (store.Busy, store.StoreError) as problem:
        print(f"error: {problem}{_what_to_do(problem)}", file=sys.stderr)
        return 3
    except duckdb.Error as problem:  # the store itself failed: say so in one line
        reason = lake.mask(str(problem)).replace("\n", " ")
        print(f"error: the store {_location(args)}: {reason}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("stopped: nothing unfinished was written to the store", file=sys.stderr)
        return 130


def _what_to_do(problem: Exception) -> str:
    if isinstance(problem, store.Busy):
        return "; run this again when it has finished (or give it longer with --wait SECONDS)"
    return ""
