"""``crmgraph reports rebuild`` and ``crmgraph reports status`` on the running estate."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from crmgraph.cli import app
from tests.conftest import Estate
from tests.facade import estate_config_file, store_copy


def _config(estate: Estate, linked_identity: str, tmp_path: Path) -> Path:
    path = estate_config_file(estate, tmp_path / "crmgraph.yaml", store_copy(linked_identity, tmp_path))
    with path.open("a") as handle:
        handle.write(f'reports: {{store_url: "duckdb:///{tmp_path / "analytics.duckdb"}", currency: USD}}\n')
    return path


def test_rebuild_prints_the_rows_of_each_table_and_status_their_freshness(
    estate: Estate, linked_identity: str, tmp_path: Path
) -> None:
    config = _config(estate, linked_identity, tmp_path)
    runner = CliRunner()
    empty = runner.invoke(app, ["reports", "status", "-c", str(config)])
    assert empty.exit_code == 0 and "is empty" in empty.output

    done = runner.invoke(app, ["reports", "rebuild", "-c", str(config)])
    assert done.exit_code == 0, done.output
    for table in ("customers", "deals", "deal_stages", "tickets", "party_days", "customer_value"):
        assert table in done.output
    assert "No exchange rate for" in done.output  # USD reports over CNY, EUR, ... amounts without rates

    status = runner.invoke(app, ["reports", "status", "-c", str(config)])
    assert status.exit_code == 0, status.output
    for part in ("crm.deal", "erp.order", "erp.invoice", "tickets.ticket", "identity.customer"):
        assert part in status.output


def test_an_unreachable_source_is_named_and_the_old_store_kept(
    estate: Estate, linked_identity: str, tmp_path: Path
) -> None:
    config = _config(estate, linked_identity, tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["reports", "rebuild", "-c", str(config)]).exit_code == 0
    before = runner.invoke(app, ["reports", "status", "-c", str(config)]).output
    estate.faults("crm", down=True)
    failed = runner.invoke(app, ["reports", "rebuild", "-c", str(config)])
    estate.faults("crm")
    assert failed.exit_code == 1
    assert "crm failed" in failed.output and "the old one is kept" in failed.output
    assert runner.invoke(app, ["reports", "status", "-c", str(config)]).output == before
