import gzip
import itertools
import math
import threading
from io import StringIO

import psycopg2
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from geo.models import Postcode, PostcodeArea, PostcodeLoad, locate_postcode

# Real Code-Point Open rows (British National Grid), and where the same postcodes are in WGS84.
CODE_POINT = """\
SK14 1AA,10,394864,395017
SK14 1PW,10,395475,394811
SK14 4DB,10,395174,395848
EC1A 1BB,10,531073,182317
SK2 9DA,90,0,0
"""
KNOWN = {
    "SK14 1AA": (53.451886, -2.078805),
    "SK14 1PW": (53.450040, -2.069602),
    "SK14 4DB": (53.459359, -2.074150),
    "EC1A 1BB": (51.524565, -0.112042),
}

# The official Ordnance Survey download: ten quoted columns, postcodes in 7-character form.
OFFICIAL = """\
"SK144DB",10,395174,395848,"E92000001","E19000001","E18000002","","E08000008","E05000810"
"M1  1AE",10,384756,398553,"E92000001","E19000001","E18000002","","E08000003","E05011356"
"B33 8TH",50,412570,286423,"E92000001","E19000001","E18000005","","E08000025","E05011118"
"SK2 9DD",90,0,0,"E92000001","","","","",""
"""

# The ONS Postcode Directory: a header row; 99.999999 means the postcode has no grid reference.
ONSPD = """\
pcd,pcd2,pcds,dointr,doterm,oseast1m,osnrth1m,osgrdind,lat,long
"SK141AA","SK14 1AA","SK14 1AA","198001","","394864","395017","1",53.451886,-2.078805
"BT1 1AA","BT1  1AA","BT1 1AA","198001","","146767","530082","1",54.599369,-5.927373
"ZZ991ZZ","ZZ99 1ZZ","ZZ99 1ZZ","200001","","","","9",99.999999,0.000000
"""


def write_gz(path, text):
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    return path


def load(source, **options):
    out = StringIO()
    call_command("load_postcodes", source=source, stdout=out, **options)
    return out.getvalue()


def metres_between(a, b):
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def position(postcode):
    point = Postcode.objects.get(pk=postcode).point
    return point.y, point.x


def table_definition():
    """Names of the postcode table's constraints and indexes, as migrations made them."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'geo_postcode'::regclass"
            " UNION SELECT indexname FROM pg_indexes WHERE tablename = 'geo_postcode'"
        )
        return {name for (name,) in cur.fetchall()}


def many_postcodes(count):
    """``count`` made-up but well-formed Code-Point rows around Hyde."""
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    rows = (
        f"{outcode} {digit}{a}{b},10,{390000 + i % 5000},{390000 + i // 5000}"
        for i, (outcode, digit, a, b) in enumerate(
            itertools.product(
                ["SK13", "SK14", "SK15", "SK16", "SK6"], "0123456789", letters, letters
            )
        )
    )
    return "\n".join(itertools.islice(rows, count)) + "\n"


@pytest.fixture
def code_point(tmp_path):
    return write_gz(tmp_path / "sk.csv.gz", CODE_POINT)


@pytest.mark.django_db(transaction=True)
class LoadCodePointTests:
    def test_it_loads_every_row_with_coordinates_and_counts_the_rest(self, code_point):
        output = load(code_point)

        assert set(Postcode.objects.values_list("postcode", flat=True)) == set(KNOWN)
        assert "Loaded 4 postcodes, skipped 1 without coordinates" in output

    def test_it_records_the_load(self, code_point):
        load(code_point)

        record = PostcodeLoad.objects.get()
        assert (record.rows_loaded, record.rows_skipped) == (4, 1)
        assert record.source == str(code_point)
        assert 0 < record.seconds < 60

    def test_it_converts_the_national_grid_to_within_a_few_metres(self, code_point):
        load(code_point)

        for postcode, known in KNOWN.items():
            assert metres_between(position(postcode), known) < 3, postcode

    def test_it_stores_district_sector_and_quality(self, tmp_path):
        load(write_gz(tmp_path / "sk.csv.gz", "SK14 1AA,50,394864,395017\n"))

        row = Postcode.objects.get(pk="SK14 1AA")
        assert (row.outcode, row.sector, row.quality) == ("SK14", "SK14 1", 50)

    def test_it_rebuilds_sector_and_district_centroids(self, code_point):
        load(code_point)

        areas = {a.code: a for a in PostcodeArea.objects.all()}
        assert {code: (a.kind, a.postcodes) for code, a in areas.items()} == {
            "SK14 1": ("sector", 2),
            "SK14 4": ("sector", 1),
            "EC1A 1": ("sector", 1),
            "SK14": ("district", 3),
            "EC1A": ("district", 1),
        }
        sk14 = [KNOWN[pc] for pc in ("SK14 1AA", "SK14 1PW", "SK14 4DB")]
        mean = (sum(p[0] for p in sk14) / 3, sum(p[1] for p in sk14) / 3)
        assert metres_between((areas["SK14"].point.y, areas["SK14"].point.x), mean) < 3
        assert locate_postcode("SK14 4DE").precision == "sector"

    def test_it_skips_a_header_row(self, tmp_path):
        source = write_gz(tmp_path / "sk.csv.gz", "Postcode,PQI,Easting,Northing\n" + CODE_POINT)

        output = load(source)

        assert Postcode.objects.count() == 4
        assert "skipped 1 " in output

    def test_it_refuses_a_missing_source(self, tmp_path):
        with pytest.raises(CommandError, match="neither a file nor a folder"):
            load(tmp_path / "nowhere")

    def test_it_refuses_an_empty_folder(self, tmp_path):
        with pytest.raises(CommandError, match="No .csv"):
            load(tmp_path)


@pytest.mark.django_db(transaction=True)
class LoadOtherFormatsTests:
    def test_it_reads_a_folder_of_official_ordnance_survey_files(self, tmp_path):
        folder = tmp_path / "Data" / "CSV"
        folder.mkdir(parents=True)
        lines = OFFICIAL.splitlines(keepends=True)
        (folder / "sk.csv").write_text(lines[0] + lines[3])
        (folder / "m.csv").write_text(lines[1])
        write_gz(folder / "b.csv.gz", lines[2])

        output = load(tmp_path)

        assert set(Postcode.objects.values_list("postcode", flat=True)) == {
            "SK14 4DB",
            "M1 1AE",
            "B33 8TH",
        }
        assert "Loaded 3 postcodes, skipped 1 " in output
        assert metres_between(position("SK14 4DB"), KNOWN["SK14 4DB"]) < 3
        assert metres_between(position("M1 1AE"), (53.483471, -2.231184)) < 3
        assert Postcode.objects.get(pk="B33 8TH").quality == 50
        assert Postcode.objects.get(pk="M1 1AE").sector == "M1 1"

    def test_it_reads_the_ons_postcode_directory(self, tmp_path):
        source = tmp_path / "ONSPD_FEB_2025_UK.csv"
        source.write_text(ONSPD)

        output = load(source)

        assert set(Postcode.objects.values_list("postcode", flat=True)) == {"SK14 1AA", "BT1 1AA"}
        assert "skipped 1 " in output
        assert position("SK14 1AA") == pytest.approx(KNOWN["SK14 1AA"], abs=1e-6)
        assert position("BT1 1AA") == pytest.approx((54.599369, -5.927373), abs=1e-6)
        assert PostcodeLoad.objects.get().rows_skipped == 1


@pytest.mark.django_db(transaction=True)
class ReloadPostcodesTests:
    def test_it_replaces_the_table_on_a_rerun(self, code_point, tmp_path):
        load(code_point)

        load(
            write_gz(tmp_path / "new.csv.gz", "M1 1AE,10,384756,398553\nB33 8TH,10,412570,286423\n")
        )

        assert set(Postcode.objects.values_list("postcode", flat=True)) == {"M1 1AE", "B33 8TH"}
        assert set(PostcodeArea.objects.values_list("code", flat=True)) == {
            "M1 1",
            "M1",
            "B33 8",
            "B33",
        }
        assert list(PostcodeLoad.objects.order_by("id").values_list("rows_loaded", flat=True)) == [
            4,
            2,
        ]

    def test_it_is_safe_to_run_twice(self, code_point):
        load(code_point)
        load(code_point)

        assert Postcode.objects.count() == 4
        assert PostcodeArea.objects.count() == 5

    def test_it_keeps_the_tables_constraints_and_indexes_across_reloads(self, code_point):
        load(code_point)
        load(code_point)

        # The names 0001_initial gives them (PostgreSQL names the primary key and the check), so
        # later migrations that look them up still find them.
        assert table_definition() == {
            "geo_postcode_pkey",
            "geo_postcode_quality_check",
            "geo_postcode_outcode_8f6953b6",
            "geo_postcode_outcode_8f6953b6_like",
            "geo_postcode_postcode_180c430f_like",
            "geo_postcode_point_4f04eadd_id",
        }

    def test_it_keeps_the_spatial_index_in_use(self, code_point):
        load(code_point)

        with connection.cursor() as cur:
            cur.execute("SET enable_seqscan = off")
            cur.execute(
                "EXPLAIN SELECT postcode FROM geo_postcode"
                " ORDER BY point <-> ST_MakePoint(-2.07, 53.45)::geography LIMIT 5"
            )
            plan = "\n".join(row[0] for row in cur.fetchall())
            cur.execute("RESET enable_seqscan")
        assert "geo_postcode_point_" in plan

    def test_it_leaves_the_old_data_in_place_when_a_file_is_broken(self, code_point, tmp_path):
        load(code_point)
        folder = tmp_path / "broken"
        folder.mkdir()
        write_gz(folder / "a.csv.gz", "M1 1AE,10,384756,398553\n")
        write_gz(folder / "b.csv.gz", "B33 8TH,10,412570,286423\nB33 8TJ,10\n")

        with pytest.raises(CommandError, match="expected at least 4 columns"):
            load(folder)

        assert set(Postcode.objects.values_list("postcode", flat=True)) == set(KNOWN)
        assert PostcodeArea.objects.filter(code="SK14 1").exists()
        assert not PostcodeArea.objects.filter(code="M1").exists()
        assert PostcodeLoad.objects.count() == 1
        # ... and the next good load still works.
        load(code_point)
        assert PostcodeLoad.objects.count() == 2

    def test_it_skips_the_load_when_asked_only_if_empty(self, code_point, tmp_path):
        load(code_point)

        output = load(write_gz(tmp_path / "new.csv.gz", "M1 1AE,10,384756,398553\n"), if_empty=True)

        assert "already loaded" in output
        assert Postcode.objects.count() == 4

    def test_it_never_shows_readers_an_empty_or_half_loaded_table(self, code_point, tmp_path):
        load(code_point)
        bigger = write_gz(tmp_path / "big.csv.gz", many_postcodes(20_000))
        seen, errors, stop = [], [], threading.Event()

        def read():
            # Its own connection, as another web worker would have; autocommit like Django's.
            # (Not `with psycopg2.connect()`: that holds a transaction open, so a lock, throughout.)
            reader = psycopg2.connect(**connection.get_connection_params())
            reader.autocommit = True
            try:
                with reader.cursor() as cur:
                    while not stop.is_set():
                        try:
                            cur.execute("SELECT count(*) FROM geo_postcode")
                            seen.append(cur.fetchone()[0])
                        except psycopg2.Error as exc:
                            errors.append(exc)
            finally:
                reader.close()

        thread = threading.Thread(target=read)
        thread.start()
        try:
            load(bigger)
        finally:
            stop.set()
            thread.join(10)

        assert errors == []
        assert set(seen) == {4, 20_000}
        assert seen == sorted(seen)  # never back to the old table once the new one is in


@pytest.mark.django_db(transaction=True)
class LoadDetailsTests:
    def test_a_postcode_repeated_across_files_keeps_its_best_quality_row(self, tmp_path):
        folder = tmp_path / "repeated"
        folder.mkdir()
        write_gz(folder / "a.csv.gz", "SK14 1AA,50,394800,395000\nSK14 1PW,10,395475,394811\n")
        write_gz(folder / "b.csv.gz", "SK14 1AA,10,394864,395017\nSK14 1AA,60,394000,395000\n")

        output = load(folder)

        assert "Loaded 2 postcodes, skipped 0 " in output
        assert Postcode.objects.get(pk="SK14 1AA").quality == 10
        assert metres_between(position("SK14 1AA"), KNOWN["SK14 1AA"]) < 3
        assert PostcodeArea.objects.get(code="SK14 1").postcodes == 2
        assert PostcodeLoad.objects.get().rows_loaded == 2

    def test_it_prints_how_long_each_phase_took(self, code_point):
        output = load(code_point)

        for phase in (
            "read, COPY, convert and spatial index: ",
            "parsing CSV (Python): ",
            "COPY into staging: ",
            "converting to WGS84 and indexing (2 connections, busy time): ",
            "indexes, ANALYZE and areas: ",
            "B-tree indexes (2 connections, busy time): ",
            "ANALYZE: ",
            "sector and district centroids: ",
            "swap: ",
        ):
            assert phase in output
        assert "file 1/1" in output

    def test_it_prints_no_phases_when_quiet(self, code_point):
        output = load(code_point, verbosity=0)

        assert "swap" not in output
        assert "Loaded 4 postcodes" in output

    def test_a_failed_load_leaves_no_half_built_tables(self, code_point, tmp_path):
        load(code_point)
        folder = tmp_path / "broken"
        folder.mkdir()
        write_gz(folder / "a.csv.gz", "M1 1AE,10,384756,398553\n")  # copied into staging first
        write_gz(folder / "b.csv.gz", "M1 1AF,10\n")

        with pytest.raises(CommandError, match="expected at least 4 columns"):
            load(folder)

        with connection.cursor() as cur:
            cur.execute("SELECT relname FROM pg_class WHERE relname LIKE 'geo_postcode%%_load'")
            assert cur.fetchall() == []
            cur.execute("SELECT relname FROM pg_class WHERE relname LIKE 'geo_postcode_staging%%'")
            assert cur.fetchall() == []

    def test_it_also_loads_inside_a_transaction(self, code_point):
        # The other connections that convert and index could not see an uncommitted table.
        with transaction.atomic():
            load(code_point)

        assert Postcode.objects.count() == 4
        assert "geo_postcode_point_4f04eadd_id" in table_definition()
