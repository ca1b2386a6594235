"""``republish extract``: files and loopback URLs, every output format, failing inputs."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from republish.cli import cli
from republish.store.db import Database
from republish.store.schema import stories
from tests.servers import LoopbackServer, Response

PAGES = Path(__file__).parent / "data" / "pages"
HTML = {"Content-Type": "text/html; charset=utf-8"}


def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_extract_file_json(cli_env: dict[str, str], db: Database) -> None:
    code, out, _ = _run(cli_env, "extract", str(PAGES / "wire_dateline.html"))
    assert code == 0
    data = json.loads(out)
    assert data["input"] == str(PAGES / "wire_dateline.html")
    assert data["headline"] == "Desalination plant opens near Ashkelon-on-Sea"
    assert data["bylines"] == ["JTA Staff"]
    assert data["published_at"] == "2026-11-18T08:00:00+00:00"
    assert data["updated_at"] is None
    assert data["canonical_url"] == "https://northshorevoice.example/world/desalination-plant-opens"
    assert data["section"] == "World"
    assert data["tags"] == ["Israel", "water", "climate"]
    assert data["origin"] == {
        "name": "JTA",
        "evidence": "JERUSALEM (JTA) \u2014",
        "kind": "dateline",
    }
    assert data["body_html"].startswith("<p>JERUSALEM (JTA)")
    assert data["body_text"].startswith("JERUSALEM (JTA)")
    with db.connect() as conn:  # extract stores nothing
        assert conn.execute(sa.select(sa.func.count()).select_from(stories)).scalar() == 0


def test_extract_url_and_file_jsonl_in_order_with_a_failure(
    cli_env: dict[str, str], http_server: LoopbackServer
) -> None:
    url = http_server.route(
        "/story", Response(200, (PAGES / "opengraph_only.html").read_bytes(), HTML)
    )
    missing = http_server.url("/gone")
    code, out, _ = _run(
        cli_env,
        "extract",
        "--format",
        "jsonl",
        url,
        missing,
        str(PAGES / "no_metadata.html"),
    )
    assert code == 1
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert [row["input"] for row in rows] == [url, missing, str(PAGES / "no_metadata.html")]
    assert rows[0]["headline"] == "Kestrel Valley schools will test a four-day week next fall"
    assert rows[0]["origin"] is None
    assert set(rows[1]) == {"input", "error"} and "404" in rows[1]["error"]
    assert rows[2]["bylines"] == ["Ana Ruiz", "Tom Becker"]


def test_extract_json_list_for_several_inputs(cli_env: dict[str, str]) -> None:
    inputs = [str(PAGES / "graph_coauthors.html"), str(PAGES / "partner_credit.html")]
    code, out, _ = _run(cli_env, "extract", *inputs)
    assert code == 0
    data = json.loads(out)
    assert [item["input"] for item in data] == inputs
    assert data[1]["origin"]["name"] == "Saltmarsh Gazette"


def test_extract_html_and_text(cli_env: dict[str, str]) -> None:
    page = str(PAGES / "newsroom_chrome.html")
    code, out, _ = _run(cli_env, "extract", "--format", "html", page)
    assert code == 0
    assert out.startswith("<p>Tidewater Community Clinic") and "Republish This Story" not in out
    code, out, _ = _run(cli_env, "extract", "--format", "text", page)
    assert code == 0
    assert out.startswith("Tidewater Community Clinic") and "<p>" not in out


def test_extract_url_option_sets_page_url(cli_env: dict[str, str]) -> None:
    code, out, _ = _run(
        cli_env,
        "extract",
        str(PAGES / "no_metadata.html"),
        "--url",
        "https://sentinel.example/footbridge",
    )
    assert code == 0
    assert json.loads(out)["canonical_url"] == "https://sentinel.example/footbridge"


def test_extract_single_failing_input_is_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    code, out, err = _run(cli_env, "extract", str(tmp_path / "nope.html"))
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("Error: cannot read")


def test_extract_private_url_is_refused(cli_env: dict[str, str]) -> None:
    code, _, err = _run(cli_env, "extract", "http://192.168.0.10/story")
    assert code == 1
    assert err.strip().startswith("Error: refused") and "private" in err


def test_extract_help(cli_env: dict[str, str]) -> None:
    code, out, _ = _run(cli_env, "extract", "--help")
    assert code == 0 and "--format" in out and "nothing is stored" in out
