"""`fetch` and `trainset` against a real HTTP server on loopback (tests/pmc_server.py) serving
synthetic corpora in both layouts, with injected faults: dropped connections, timeouts, 500s,
404 at the old path with the file under deprecated/, Range requests, and a SIGKILLed fetch."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import polars as pl
import pytest

import rocov2_fast as rf
from rocov2_fast import parse_jats, synth
from rocov2_fast.fetch import FetchOptions, fetch
from rocov2_fast.fetch.cloud import normalise_license
from rocov2_fast.fetch.http import Downloader
from rocov2_fast.fetch.trainset import build_trainset, read_roco_lists

from pmc_server import PmcServer

ALLOWED = {"CC BY", "CC BY-NC"}


@pytest.fixture(scope="module")
def legacy_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fetch_legacy")
    synth.generate(out, synth.Options(articles=18, seed=4, profile="tiny"))
    return out


@pytest.fixture(scope="module")
def cloud_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fetch_cloud")
    synth.generate(out, synth.Options(articles=12, seed=4, profile="tiny", layout="cloud"))
    return out


def file_list_rows(corpus: Path) -> list[dict]:
    with (corpus / "oa_file_list.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def allowed_packages(corpus: Path) -> set[str]:
    return {r["File"] for r in file_list_rows(corpus) if r["License"] in ALLOWED}


def fetched_packages(out: Path) -> set[str]:
    return {str(p.relative_to(out)) for p in out.rglob("*.tar.gz")}


def options(out: Path, base: str, **kw) -> FetchOptions:
    return FetchOptions(out=out, base_url=base, timeout=0.5, backoff=0.01, retries=3, jobs=4, show_progress=False, **kw)


def failures(out: Path) -> list[dict]:
    path = out / "fetch_failures.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_legacy_fetch_gets_exactly_the_allowed_packages_through_faults(legacy_corpus, tmp_path):
    wanted = allowed_packages(legacy_corpus)
    assert 0 < len(wanted) < len(file_list_rows(legacy_corpus)), "the corpus must have excluded licences"
    first, second, third = sorted(wanted)[:3]
    with PmcServer(legacy_corpus, only_deprecated=True, stall=1.5) as srv:
        srv.fault(f"/pub/pmc/deprecated/{first}", "drop", "500")
        srv.fault(f"/pub/pmc/deprecated/{second}", "timeout")
        srv.fault(f"/pub/pmc/deprecated/{third}", "500", "500")
        summary = fetch(options(tmp_path / "out", srv.url + "/pub/pmc/"))
        dropped = srv.requests_for(f"/pub/pmc/deprecated/{first}")
        old_path_hits = [s for p, _, s in srv.log if p.startswith("/pub/pmc/oa_package/")]
        old_list = [s for p, _, s in srv.log if p == "/pub/pmc/oa_file_list.csv"]
    assert fetched_packages(tmp_path / "out") == wanted
    for rel in wanted:
        assert (tmp_path / "out" / rel).read_bytes() == (legacy_corpus / rel).read_bytes()
    assert summary["done"] == len(wanted) and summary["licence_excluded"] == len(file_list_rows(legacy_corpus)) - len(wanted)
    assert summary["served_from"] == "deprecated/"
    # the list was found under deprecated/ after a 404 at the old path; packages went there directly
    assert old_list == [404] and old_path_hits == [], "the working location is remembered"
    # the dropped transfer was continued with a Range request, not started over
    assert dropped[0] == (None, 200) and all(r and r.startswith("bytes=") and int(r[6:-1]) > 0 for r, _ in dropped[1:])
    assert not list((tmp_path / "out").rglob("*.part")) and failures(tmp_path / "out") == []
    rf.scan([tmp_path / "out"], tmp_path / "scan.parquet", file_list=tmp_path / "out" / "oa_file_list.csv")
    table = pl.read_parquet(tmp_path / "scan.parquet")
    assert set(table["pmcid"]) == {Path(p).name.split(".")[0] for p in wanted}


def test_404_and_corrupt_packages_are_recorded_not_fatal(legacy_corpus, tmp_path):
    rows = file_list_rows(legacy_corpus)
    good = next(r for r in rows if r["License"] == "CC BY")
    served = tmp_path / "served"
    shutil.copytree(legacy_corpus, served)
    truncated = served / "oa_package" / "ff" / "ff" / "PMC7777777.tar.gz"
    truncated.parent.mkdir(parents=True)
    truncated.write_bytes((served / good["File"]).read_bytes()[:500])
    listing = tmp_path / "list.csv"
    with listing.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerow(good)
        w.writerow({**good, "File": "oa_package/ee/ee/PMC8888888.tar.gz", "Accession ID": "PMC8888888"})
        w.writerow({**good, "File": "oa_package/ff/ff/PMC7777777.tar.gz", "Accession ID": "PMC7777777"})
    with PmcServer(served) as srv:
        summary = fetch(options(tmp_path / "out", srv.url + "/pub/pmc/", file_list=str(listing)))
    assert (summary["done"], summary["missing"], summary["failed"]) == (1, 1, 1)
    logged = {Path(e["url"]).name: e for e in failures(tmp_path / "out")}
    assert logged["PMC8888888.tar.gz"]["status"] == "missing"
    assert logged["PMC7777777.tar.gz"]["status"] == "failed" and "integrity" in logged["PMC7777777.tar.gz"]["error"]
    assert not (tmp_path / "out" / "oa_package/ff/ff/PMC7777777.tar.gz").exists(), "a corrupt package never takes its final name"


def test_a_killed_fetch_resumes_without_downloading_complete_files_again(legacy_corpus, tmp_path):
    wanted = sorted(allowed_packages(legacy_corpus), key=lambda p: (legacy_corpus / p).stat().st_size)
    slow = wanted[-1]  # the largest package trickles out; the others finish first
    out = tmp_path / "out"
    with PmcServer(legacy_corpus) as srv:
        srv.fault(f"/pub/pmc/{slow}", "slow")
        cmd = [sys.executable, "-m", "rocov2_fast.cli", "fetch", "--out", str(out), "--base-url", srv.url + "/pub/pmc/",
               "--jobs", "2", "--no-progress", "--backoff", "0.01"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        part = out / (slow + ".part")
        deadline = time.time() + 60
        while time.time() < deadline and not (part.exists() and part.stat().st_size > 8192
                                               and len(fetched_packages(out)) == len(wanted) - 1):
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert part.exists() and not (out / slow).exists(), "killed while the slow package was half there"
        complete = fetched_packages(out)
        kept_bytes = part.stat().st_size
        before = len(srv.log)
        summary = fetch(options(out, srv.url + "/pub/pmc/"))
        second_run = srv.log[before:]
    assert fetched_packages(out) == set(wanted)
    assert summary["skipped"] == len(complete) and summary["done"] == 1
    requested = [p for p, _, _ in second_run if p.endswith(".tar.gz")]
    assert requested == [f"/pub/pmc/{slow}"], "complete packages are not requested again"
    assert second_run[-1][1] == f"bytes={kept_bytes}-"
    assert (out / slow).read_bytes() == (legacy_corpus / slow).read_bytes()


def add_version_two(cloud: Path, pmcid: str) -> None:
    """A newer version of one article: PMCnnnn.2/ with its own metadata."""
    shutil.copytree(cloud / f"{pmcid}.1", cloud / f"{pmcid}.2")
    (cloud / f"{pmcid}.2" / f"{pmcid}.1.xml").rename(cloud / f"{pmcid}.2" / f"{pmcid}.2.xml")
    meta = json.loads((cloud / "metadata" / f"{pmcid}.1.json").read_text())
    meta = {**meta, "version": 2, "xml_url": meta["xml_url"].replace(".1/", ".2/").replace(".1.xml", ".2.xml"),
            "media_urls": [u.replace(f"{pmcid}.1/", f"{pmcid}.2/") for u in meta["media_urls"]]}
    (cloud / "metadata" / f"{pmcid}.2.json").write_text(json.dumps(meta))


def test_cloud_fetch_takes_the_latest_version_xml_and_referenced_figures_only(cloud_corpus, tmp_path):
    served = tmp_path / "served"
    shutil.copytree(cloud_corpus, served)
    metas = {p.stem: json.loads(p.read_text()) for p in (served / "metadata").glob("*.json")}
    allowed = sorted(k.split(".")[0] for k, m in metas.items() if normalise_license(m["license_code"]) in ALLOWED)
    assert allowed and len(allowed) < len(metas)
    add_version_two(served, allowed[0])
    with PmcServer(cloud_root=served, max_keys=3) as srv:
        first_xml = f"/bucket/{allowed[1]}.1/{allowed[1]}.1.xml"
        srv.fault(first_xml, "500")
        summary = fetch(options(tmp_path / "out", srv.url + "/bucket/", layout="cloud"))
        listings = [r for p, r, _ in srv.log if p == "/bucket/"]
    out = tmp_path / "out"
    folders = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name.startswith("PMC"))
    assert folders == sorted(f"{p}.2" if p == allowed[0] else f"{p}.1" for p in allowed)
    assert summary["ok"] == len(allowed) and len(listings) > 1, "the listing is paginated"
    for folder in folders:
        xml = (out / folder / f"{folder}.xml").read_bytes()
        graphics = {g for fig in parse_jats(xml)["figures"] for g in fig["graphics"]}
        images = {p.name for p in (out / folder).iterdir() if p.suffix != ".xml"}
        assert {Path(i).stem for i in images} == {g for g in graphics if any((served / folder).glob(g + ".*"))}
        assert not any(i.endswith((".pdf", ".docx")) for i in images)
        for f in (out / folder).iterdir():
            assert f.read_bytes() == (served / folder / f.name).read_bytes()
    rf.scan([out], tmp_path / "scan.parquet")
    rf.scan([served / f for f in folders], tmp_path / "source.parquet")
    table = pl.read_parquet(tmp_path / "scan.parquet")
    assert set(table["pmcid"]) == set(allowed)
    columns = ["pmcid", "graphic", "status", "phash"]
    assert table.select(columns).sort(columns).rows() == pl.read_parquet(tmp_path / "source.parquet").select(columns).sort(columns).rows()


def test_cloud_only_all_and_urls_on_other_hosts_are_not_contacted(cloud_corpus, tmp_path):
    served = tmp_path / "served"
    shutil.copytree(cloud_corpus, served)
    metas = sorted((served / "metadata").glob("*.json"))
    allowed = [p for p in metas if normalise_license(json.loads(p.read_text())["license_code"]) in ALLOWED]
    tampered = json.loads(allowed[0].read_text())
    tampered["xml_url"] = "http://example.invalid/stolen.xml"
    allowed[0].write_text(json.dumps(tampered))
    with PmcServer(cloud_root=served) as srv:
        summary = fetch(options(tmp_path / "out", srv.url + "/bucket/", layout="cloud", only="all"))
    assert summary["failed"] == 1 and summary["ok"] == len(allowed) - 1
    logged = failures(tmp_path / "out")
    assert logged[0]["url"] == "http://example.invalid/stolen.xml" and "not one the user gave" in logged[0]["error"]
    pdfs = list((tmp_path / "out").rglob("*.pdf"))
    assert len(pdfs) == len(allowed) - 1, "--only all also takes the PDF and supplements"


def test_trainset_roco_builds_class_folders_fetching_each_package_once(legacy_corpus, tmp_path):
    truth = list(csv.DictReader((legacy_corpus / "truth.csv").open()))
    by_pmcid = {r["Accession ID"]: r["File"] for r in file_list_rows(legacy_corpus)}
    rows = [r for r in truth if r["pmcid"] in by_pmcid][:12]
    lists = tmp_path / "lists"
    for label in ("radiology", "non-radiology"):
        (lists / label).mkdir(parents=True)
        chosen = [r for r in rows if (r["radiology"] == "1") == (label == "radiology")]
        lines = [f"ROCO_{i:05d}\twget -r ftp://ftp.ncbi.nlm.nih.gov/pub/pmc/{by_pmcid[r['pmcid']]} -P /path/to/Dir\t{r['member']}"
                 for i, r in enumerate(chosen)]
        (lists / label / "dlinks.txt").write_text("\n".join(lines) + "\n")
    parsed = read_roco_lists(lists)
    assert len(parsed) == len(rows)
    with PmcServer(legacy_corpus) as srv:
        dl = Downloader(allowed_hosts={srv.url.split("//")[1]}, failure_log=tmp_path / "failures.jsonl", backoff=0.01)
        summary = build_trainset(parsed, tmp_path / "set", dl, srv.url + "/pub/pmc/")
        packages = [p for p, _, _ in srv.log if p.endswith(".tar.gz")]
    assert len(packages) == len(set(packages)) == len({r.package for r in parsed})
    for row in parsed:
        data = (tmp_path / "set" / row.label / row.name).read_bytes()
        pmcid = Path(row.package).name.split(".")[0]
        source = next(r for r in rows if r["pmcid"] == pmcid and r["member"] == row.member)
        assert (source["radiology"] == "1") == (row.label == "radiology")
        with tarfile.open(legacy_corpus / row.package) as tar:
            member = next(m for m in tar.getmembers() if Path(m.name).name == row.member)
            assert data == tar.extractfile(member).read()
    assert sum(summary["images"].values()) == len(parsed) and not (tmp_path / "set" / "packages").exists()
