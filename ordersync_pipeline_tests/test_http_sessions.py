"""The marketplace clients' connection pools read the environment once, and never let it replace the token."""

from __future__ import annotations

import requests
from urllib3.util.retry import Retry

from ordersync_pipeline.marketplaces.sessions import HttpPool, timeout_of
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator

TOKEN = "t0k"


def test_a_netrc_entry_for_the_marketplace_does_not_replace_the_token(tmp_path, monkeypatch):
    simulator = BackMarketSimulator(tokens={TOKEN}, seed=7, orders=3, port=0).start()
    try:
        netrc = tmp_path / ".netrc"
        netrc.write_text("machine 127.0.0.1 login someone password other-secret\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
        headers = {"Authorization": f"Basic {TOKEN}", "Accept": "application/json", "Accept-Language": "fr-fr"}
        pool = HttpPool(simulator.url, headers, Retry(total=0))
        answer = pool.request("GET", f"{simulator.url}/ws/orders", timeout=timeout_of(5))
        # A plain requests session with the same headers sends the ~/.netrc credentials instead.
        plain = requests.Session()
        plain.headers.update(headers)
        refused = plain.get(f"{simulator.url}/ws/orders", timeout=5)
    finally:
        simulator.stop()
    assert answer.status == 200
    assert refused.status_code == 401


def test_proxies_and_the_ca_bundle_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company.pem")

    remote = HttpPool("https://www.backmarket.fr", {}, Retry(total=0))
    local = HttpPool("https://127.0.0.1:8710", {}, Retry(total=0))

    assert remote.proxy == "http://proxy.internal:3128"
    assert local.proxy is None
    assert remote.ca_certs == "/etc/ssl/company.pem"


def test_query_parameters_are_added_to_the_url_and_the_answer_says_where_it_came_from():
    simulator = BackMarketSimulator(tokens={TOKEN}, seed=7, orders=3, port=0).start()
    try:
        pool = HttpPool(simulator.url, {"Authorization": f"Basic {TOKEN}", "User-Agent": "t"}, Retry(total=0))
        answer = pool.request(
            "GET", f"{simulator.url}/ws/orders?page-size=1", params={"page": 2}, timeout=timeout_of(5)
        )
    finally:
        simulator.stop()
    assert answer.status == 200
    assert answer.url.endswith("/ws/orders?page-size=1&page=2")
    assert answer.headers["content-type"] == "application/json"
