"""DuckDB, chDB or DataFusion side of `hoso bench`'s query comparison
(src/bench/engines.rs).

Usage: engines.py ENGINE SPEC.json, ENGINE being duckdb, chdb or datafusion
(hoso's own query engine on the same file: the reference that shows what
the engine costs apart from hoso's storage). The spec names the Parquet
file, the number of timed runs and each query's SQL, in which {filings}
stands for the file. Each query runs once to warm up, then
`runs` times; the answer (JSON on stdout) has the engine's version and, per
query, the median time in milliseconds and the rows as lists of JSON values.
"""

import json
import statistics
import sys
import time


def duckdb_engine(parquet):
    import duckdb

    con = duckdb.connect()
    # Timestamps are compared and turned into dates in UTC; the SQL adds
    # Vietnam's 7 hours itself.
    con.execute("SET TimeZone = 'UTC'")
    source = "read_parquet('%s')" % parquet.replace("'", "''")

    def run(sql):
        return [list(row) for row in con.execute(sql.replace("{filings}", source)).fetchall()]

    return duckdb.__version__, run


def chdb_engine(parquet):
    import chdb
    from chdb import session

    sess = session.Session()
    source = "file('%s', Parquet)" % parquet.replace("'", "\\'")

    def run(sql):
        text = sql.replace("{filings}", source)
        text += " SETTINGS output_format_json_quote_64bit_integers = 0, session_timezone = 'UTC'"
        result = sess.query(text, "JSONCompact")
        return json.loads(result.data())["data"]

    version = "%s (ClickHouse %s)" % (chdb.__version__, getattr(chdb, "engine_version", "?"))
    return version, run


def datafusion_engine(parquet):
    import datafusion
    import pyarrow

    ctx = datafusion.SessionContext()
    ctx.register_parquet("filings", parquet)

    def run(sql):
        table = pyarrow.Table.from_batches(ctx.sql(sql.replace("{filings}", "filings")).collect())
        return [list(row.values()) for row in table.to_pylist()]

    return datafusion.__version__, run


def plain(value):
    """A value as JSON has it: big integers stay integers, dates become text."""
    if isinstance(value, (int, float, str)) or value is None:
        return value
    return str(value)


def main():
    engine, spec_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    make = {"duckdb": duckdb_engine, "chdb": chdb_engine, "datafusion": datafusion_engine}[engine]
    version, run = make(spec["parquet"])
    out = {"engine": engine, "version": version, "queries": []}
    for q in spec["queries"]:
        rows = run(q["sql"])
        times = []
        for _ in range(spec["runs"]):
            started = time.perf_counter()
            again = run(q["sql"])
            times.append((time.perf_counter() - started) * 1000.0)
            if len(again) != len(rows):
                raise SystemExit("%s answered %r differently twice" % (engine, q["name"]))
        out["queries"].append(
            {
                "name": q["name"],
                "median_ms": statistics.median(times),
                "rows": [[plain(v) for v in row] for row in rows],
            }
        )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
