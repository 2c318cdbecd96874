"""hoso's Flight SQL with the real ADBC driver (adbc-driver-flightsql).

Reads a JSON request on stdin and prints what the driver saw as JSON on
stdout; tests/e2e/flight_sql.rs decides what is right. The request:

    {"uri": "grpc://127.0.0.1:PORT", "username": "hoso", "password": "hoso",
     "queries": [SQL, ...], "refused": [SQL, ...], "table": "filings"}

Values are printed as text the same way for every type, so that the test
can compare them with HTTP's JSON: None stays null, booleans are
true/false, floats their shortest repr, dates ISO 8601, the rest str().
Any failure the request did not ask for ends the script with exit code 1.
"""

import datetime
import json
import sys

try:
    import adbc_driver_flightsql.dbapi as flight_sql
    import adbc_driver_manager
    import pyarrow
except ImportError as e:
    print(
        f"cannot import the ADBC Flight SQL driver ({e}): run deploy/local.sh test, "
        "or pip3 install adbc-driver-flightsql pyarrow",
        file=sys.stderr,
    )
    sys.exit(3)


def text(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def rows_of(table):
    columns = table.column_names
    return {
        "columns": columns,
        "rows": [[text(row[c]) for c in columns] for row in table.to_pylist()],
    }


def plain(conn, sql):
    """`sql` as a plain statement: GetFlightInfo(CommandStatementQuery), DoGet."""
    stmt = adbc_driver_manager.AdbcStatement(conn.adbc_connection)
    try:
        stmt.set_sql_query(sql)
        handle, _ = stmt.execute_query()
        return pyarrow.RecordBatchReader._import_from_c(handle.address).read_all()
    finally:
        stmt.close()


def error_of(action):
    """The error `action` raised, as text; None if it succeeded."""
    try:
        action()
    except Exception as e:  # the driver's DB-API errors
        return f"{type(e).__name__}: {e}"
    return None


def connect(request, password):
    return flight_sql.connect(
        request["uri"],
        db_kwargs={"username": request["username"], "password": password},
    )


def main():
    request = json.load(sys.stdin)
    out = {}
    with connect(request, request["password"]) as conn:
        with conn.cursor() as cur:
            # Plain statements: GetFlightInfo(CommandStatementQuery), DoGet.
            # (The DB-API cursor always prepares, so this takes ADBC's own
            # statement.)
            out["results"] = [rows_of(plain(conn, sql)) for sql in request["queries"]]
            # The DB-API way: a prepared statement (CreatePreparedStatement,
            # GetFlightInfo(CommandPreparedStatementQuery), DoGet).
            out["prepared"] = []
            for sql in request["queries"]:
                cur.execute(sql)
                out["prepared"].append(rows_of(cur.fetch_arrow_table()))
            # Writes and session changes: each must fail, with its message.
            # Both ways.
            out["refused"] = []
            for sql in request["refused"]:
                out["refused"].append(
                    {
                        "sql": sql,
                        "prepared": error_of(lambda: cur.execute(sql).fetch_arrow_table()),
                        "plain": error_of(lambda: plain(conn, sql)),
                    }
                )
            # A whole table into Arrow.
            cur.execute(f"SELECT * FROM {request['table']}")
            table = cur.fetch_arrow_table()
            out["table"] = {
                "num_rows": table.num_rows,
                "schema": [[f.name, str(f.type)] for f in table.schema],
            }
        # What tools browse.
        objects = conn.adbc_get_objects().read_all().to_pylist()
        out["objects"] = []
        out["object_columns"] = {}
        for catalog in objects:
            for schema in catalog["catalog_db_schemas"] or []:
                for t in schema["db_schema_tables"] or []:
                    name = ".".join(
                        [catalog["catalog_name"], schema["db_schema_name"], t["table_name"]]
                    )
                    out["objects"].append([name, t["table_type"]])
                    out["object_columns"][name] = [
                        c["column_name"] for c in t["table_columns"] or []
                    ]
        schema = conn.adbc_get_table_schema(request["table"])
        out["table_schema"] = [[f.name, str(f.type)] for f in schema]
    # Wrong credentials.
    def wrong_login():
        with connect(request, request["password"] + "-wrong") as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT 1").fetch_arrow_table()

    out["wrong_password"] = error_of(wrong_login)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
