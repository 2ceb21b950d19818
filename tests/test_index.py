"""The project index follows dispatches across modules (TXL102), with no configuration."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

from txlint import cli
from txlint.django.summary import FunctionSummary
from txlint.index import FileSummary, ProjectIndex
from txlint import indexing
from txlint.index import summarise_source
from txlint.project import project_facts

SEED = Path(__file__).resolve().parent.parent / "fixtures" / "seed_import"

AWARE_WRAPPER = '''
import django_rq
from django.db import connection, transaction


def start_job_async_or_sync(job, *args, queue_name="default", **kwargs):
    def enqueue():
        return django_rq.get_queue(queue_name).enqueue(job, *args, **kwargs)

    if connection.in_atomic_block:
        transaction.on_commit(enqueue)
        return None
    return enqueue()
'''


def unconfigured_seed(tmp_path: Path) -> Path:
    copy = tmp_path / "seed"
    shutil.copytree(SEED, copy)
    (copy / "pyproject.toml").write_text("[project]\nname = 'seed'\n")
    return copy


def findings(capsys, root: Path) -> set[tuple[str, int, str]]:
    cli.main([str(root), "--select", "TXL101,TXL102"])
    found = set()
    for line in capsys.readouterr().out.splitlines():
        path, number, _, rest = line.split(":", 3)
        found.add((Path(path).relative_to(root).as_posix(), int(number), rest.split()[0]))
    return found


def test_index_follows_the_seed_wrapper_without_configuration(tmp_path: Path) -> None:
    facts = project_facts(str(unconfigured_seed(tmp_path)))
    assert facts.dispatch_chains["core.redis.start_job_async_or_sync"][0] == "start_job_async_or_sync"
    assert facts.dispatch_chains["data_import.uploader.create_file_uploads"][:2] == (
        "create_file_uploads",
        "start_job_async_or_sync",
    )
    assert facts.parsed < facts.files


def test_seed_race_conditions_are_reported_through_their_call_chains(tmp_path: Path, capsys) -> None:
    found = findings(capsys, unconfigured_seed(tmp_path))
    reported_files = {path for path, _, code in found if code == "TXL102"}
    # races #2 (api, functions), #3 (uploader, services) and the #3 chain through create_file_uploads
    assert {"data_import/api.py", "data_import/uploader.py", "data_import/services.py"} <= reported_files
    assert not any(code == "TXL101" and path.startswith("data_import") for path, _, code in found)


def test_a_transaction_aware_wrapper_makes_every_caller_safe(tmp_path: Path, capsys) -> None:
    root = unconfigured_seed(tmp_path)
    (root / "core" / "redis.py").write_text(AWARE_WRAPPER)
    assert not [f for f in findings(capsys, root) if f[0].startswith("data_import")]


def test_chains_survive_cycles_and_end_at_transaction_aware_functions() -> None:
    index = ProjectIndex(
        functions={
            "app.a": FunctionSummary(calls=["app.b"]),
            "app.b": FunctionSummary(calls=["app.a", "app.c"]),
            "app.c": FunctionSummary(dispatches=["task.delay"]),
            "app.d": FunctionSummary(calls=["app.safe"]),
            "app.safe": FunctionSummary(calls=["app.c"], defers=True),
        }
    )
    chains = index.chains()
    assert chains["app.a"] == ("a", "b", "c", "task.delay")
    assert chains["app.b"] == ("b", "c", "task.delay")
    assert "app.d" not in chains and "app.safe" not in chains


SIGNALS = "from django.dispatch import Signal\n\norder_paid = Signal()\n"
RECEIVERS = """
from django.dispatch import receiver

from shop.signals import order_paid
from shop.tasks import send_receipt


@receiver(order_paid)
def notify_customer(sender, order, **kwargs):
    send_receipt.delay(order.pk)
"""
SERVICES = """
from django.db import transaction

from shop.signals import order_paid


def mark_paid(order):
    with transaction.atomic():
        order.status = "paid"
        order.save()
        order_paid.send(sender=type(order), order=order)
"""


def test_sending_a_custom_signal_calls_its_dispatching_receivers(write, capsys) -> None:
    files = {"pyproject.toml": "", "shop/__init__.py": "", "shop/signals.py": SIGNALS}
    files.update({"shop/receivers.py": RECEIVERS, "shop/services.py": SERVICES, "shop/tasks.py": ""})
    root = write(files)
    cli.main([str(root / "shop" / "services.py")])
    [line] = capsys.readouterr().out.splitlines()
    assert ":10:9: TXL102 `order_paid.send()`" in line
    assert "(order_paid.send -> notify_customer -> send_receipt.delay)" in line


def test_receivers_connected_by_call_and_deferring_receivers(write, capsys) -> None:
    connected = RECEIVERS.replace("@receiver(order_paid)\n", "") + "\n\norder_paid.connect(notify_customer)\n"
    files = {"pyproject.toml": "", "shop/__init__.py": "", "shop/signals.py": SIGNALS, "shop/tasks.py": ""}
    root = write({**files, "shop/receivers.py": connected, "shop/services.py": SERVICES})
    assert cli.main([str(root / "shop" / "services.py")]) == 1
    capsys.readouterr()
    deferring = RECEIVERS.replace(
        "send_receipt.delay(order.pk)", "transaction.on_commit(lambda: send_receipt.delay(order.pk))"
    ).replace("from django.dispatch import receiver", "from django.db import transaction\nfrom django.dispatch import receiver")
    safe = {f"safe/{name}": text for name, text in files.items()}
    other = write({**safe, "safe/shop/receivers.py": deferring, "safe/shop/services.py": SERVICES})
    assert cli.main([str(other / "safe" / "shop" / "services.py")]) == 0


INTAKE = Path(__file__).resolve().parent.parent / "fixtures" / "projects" / "intake"


def test_intake_chains_name_every_link_across_modules(capsys) -> None:
    cli.main([str(INTAKE), "--no-cache"])
    messages = {
        (Path(path).name, int(number)): rest.split(" dispatches a job (", 1)[1].split(") inside", 1)[0]
        for path, number, _, rest in (line.split(":", 3) for line in capsys.readouterr().out.splitlines())
    }
    enqueue = "start_job -> django_rq.get_queue(...).enqueue"
    assert messages == {
        # through `import intake.queueing as queueing` in pdf.py
        ("uploads.py", 19): f"create_file_upload -> process_pdf_if_needed -> {enqueue}",
        # through the package's re-export: `from intake import start_job`
        ("uploads.py", 21): enqueue,
        ("views.py", 18): f"create_file_upload -> process_pdf_if_needed -> {enqueue}",
        # a nested function is a link of its own
        ("views.py", 45): f"kick_off -> import_file -> create_file_upload -> process_pdf_if_needed -> {enqueue}",
        ("services.py", 15): f"ProjectImporter.schedule -> {enqueue}",
        # an import cycle with mutual recursion: tree_a.walk -> tree_b.visit -> tree_a.walk ...
        ("tree_a.py", 20): f"walk -> visit -> {enqueue}",
        # atomic wrappers of db.py: a `with` item, a decorator, a package re-export
        ("batch.py", 11): enqueue,
        ("batch.py", 17): enqueue,
        ("batch.py", 23): enqueue,
    }


def test_intake_index_knows_the_safe_wrapper_and_the_src_layout() -> None:
    facts = project_facts(str(INTAKE))
    assert "intake.queueing.start_job" in facts.dispatch_chains
    assert "intake.queueing.start_job_on_commit" not in facts.dispatch_chains
    assert "intake.views.reimport.<locals>.kick_off" in facts.dispatch_chains
    assert "intake.tree_a.depth" not in facts.dispatch_chains  # recursion without a dispatch
    assert facts.atomic_wrappers == {"intake.db.traced_atomic", "intake.db.conditional_atomic"}


def test_intake_fixed_by_txlint_reports_nothing_more(tmp_path: Path, capsys) -> None:
    copy = tmp_path / "intake"
    shutil.copytree(INTAKE, copy)
    cli.main([str(copy), "--no-cache", "--fix", "--unsafe-fixes"])
    capsys.readouterr()
    cli.main([str(copy), "--no-cache", "--select", "TXL102"])
    lines = capsys.readouterr().out.splitlines()
    remaining = {(Path(line.split(":")[0]).name, line.split(": ", 1)[1].split()[1]) for line in lines}
    # `upload = create_file_upload(...)`: the result is used, so the call cannot wait for the commit
    assert remaining == {("uploads.py", "`create_file_upload()`"), ("views.py", "`create_file_upload()`")}
    assert "transaction.on_commit(kick_off)" in (copy / "src" / "intake" / "views.py").read_text()


HELPER_DISPATCHING_IN_ITS_OWN_TRANSACTION = '''
from django.db import transaction

from .tasks import send_receipt


def close(order):
    with transaction.atomic():
        order.save()
        send_receipt.delay(order.pk)
'''

CALLER = '''
from django.db import transaction

from .helpers import close


def checkout(order):
    with transaction.atomic():
        order.lines.update(paid=True)
        close(order)
'''


def test_findings_listed_after_fix_follow_the_chains_the_fix_cut(tmp_path: Path, capsys) -> None:
    root = tmp_path / "shop"
    (root / "shop").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    sources = {"__init__.py": "", "tasks.py": "", "helpers.py": HELPER_DISPATCHING_IN_ITS_OWN_TRANSACTION}
    for name, text in {**sources, "services.py": CALLER}.items():
        (root / "shop" / name).write_text(text.lstrip())
    assert cli.main([str(root), "--no-cache"]) == 1
    assert "TXL102" in capsys.readouterr().out
    # The TXL101 fix in helpers.py defers the dispatch: close() no longer dispatches.
    assert cli.main([str(root), "--no-cache", "--fix"]) == 0
    assert "TXL102" not in capsys.readouterr().out
    assert "transaction.on_commit(partial(send_receipt.delay, order.pk))" in (root / "shop" / "helpers.py").read_text()


# `shop/orders.py` dispatches itself (so it is summarised first, when no chain is known) and
# calls `shop.billing.charge`, whose chain is found only two rounds later.
LATE_CHAIN = {
    "pyproject.toml": "",
    "shop/__init__.py": "",
    "shop/tasks.py": "",
    "shop/payments.py": """
        from shop.tasks import capture_task


        def capture(payment):
            capture_task.delay(payment.pk)
    """,
    "shop/billing.py": """
        from shop.payments import capture


        def charge(order):
            capture(order.payment)
    """,
    "shop/orders.py": """
        from shop.billing import charge
        from shop.tasks import receipt_task


        def send_receipt(order):
            receipt_task.delay(order.pk)


        def checkout(order):
            order.save()
            charge(order)
    """,
}


def test_a_file_summarised_early_is_summarised_again_for_a_chain_found_later(write, tmp_path: Path) -> None:
    root = write(LATE_CHAIN)
    for path in root.rglob("*.py"):
        os.utime(path, ns=(10**9, 10**9))  # not racy: the cache trusts their stamps
    facts = project_facts(str(root), str(tmp_path / "cache"))
    assert facts.dispatch_chains["shop.orders.checkout"] == ("checkout", "charge", "capture", "capture_task.delay")
    assert facts.dispatch_chains["shop.orders.send_receipt"] == ("send_receipt", "receipt_task.delay")
    project_facts.cache_clear()
    orders = root / "shop" / "orders.py"
    orders.write_text(orders.read_text() + "\n# touched\n")
    os.utime(orders, ns=(2 * 10**9, 2 * 10**9))
    again = project_facts(str(root), str(tmp_path / "cache"))
    # The cached summaries stand for the chains known: only the changed file is parsed again.
    assert again.dispatch_chains == facts.dispatch_chains and again.read == 1 and again.parsed == 1


def test_a_summary_stands_for_chains_until_one_ends_in_a_name_left_out() -> None:
    summary = FileSummary({}, frozenset({"charge", "save"}), frozenset({"shop.billing.save"}))
    assert summary.stands_for(["shop.payments.capture", "shop.billing.save"])
    assert not summary.stands_for(["shop.billing.charge"])


# `shop/alerts.py` dispatches; each other module calls `notify` in one of the ways a chain
# is reached, but `shop/docs.py`, which only names it.
CALLS_OF_A_CHAIN = {
    "pyproject.toml": "",
    "shop/__init__.py": "",
    "shop/tasks.py": "",
    "shop/alerts.py": """
        from shop.tasks import alert_task


        def notify(order):
            alert_task.delay(order.pk)
    """,
    "shop/direct.py": """
        from shop.alerts import notify


        def pay(order):
            notify(order)
    """,
    "shop/parenthesised.py": """
        from shop.alerts import notify


        def pay(order):
            (notify)(order)
    """,
    "shop/renamed.py": """
        from shop.alerts import notify as tell


        def pay(order):
            tell(order)
    """,
    "shop/qualified.py": """
        import shop.alerts


        def pay(order):
            shop.alerts.notify(order)
    """,
    "shop/docs.py": """
        HELP = "notify the customer"


        def describe(order):
            # notify is called on payment
            return getattr(order, "notify", None)
    """,
}


def summarised_paths(monkeypatch) -> list[str]:
    """The paths the index summarises from now on (each time it does)."""
    paths: list[str] = []

    def recording(path, *args):
        paths.append(os.path.basename(path))
        return summarise_source(path, *args)

    monkeypatch.setattr(indexing, "summarise_source", recording)
    return paths


def test_only_modules_that_may_call_a_chain_are_summarised_for_it(write, monkeypatch) -> None:
    root = write(CALLS_OF_A_CHAIN)
    summarised = summarised_paths(monkeypatch)
    facts = project_facts(str(root))
    callers = {name for name in facts.dispatch_chains if name.endswith(".pay")}
    assert callers == {f"shop.{module}.pay" for module in ("direct", "parenthesised", "renamed", "qualified")}
    # docs.py names `notify` but cannot call it.
    assert sorted(summarised) == ["alerts.py", "direct.py", "parenthesised.py", "qualified.py", "renamed.py"]


def test_a_module_not_read_again_is_searched_for_the_chains_it_may_call(write, tmp_path: Path, monkeypatch) -> None:
    files = {**CALLS_OF_A_CHAIN, "shop/alerts.py": "def notify(order):\n    order.save()\n"}
    root = write(files)
    for path in root.rglob("*.py"):
        os.utime(path, ns=(10**9, 10**9))  # not racy: the cache trusts their stamps
    assert project_facts(str(root), str(tmp_path / "cache")).dispatch_chains == {}
    project_facts.cache_clear()
    alerts = root / "shop" / "alerts.py"
    alerts.write_text(textwrap.dedent(CALLS_OF_A_CHAIN["shop/alerts.py"]).lstrip("\n"))
    os.utime(alerts, ns=(2 * 10**9, 2 * 10**9))
    summarised = summarised_paths(monkeypatch)
    again = project_facts(str(root), str(tmp_path / "cache"))
    # Only alerts.py was read; the callers were found by the words the cache kept of them.
    assert again.read == 1
    assert {name for name in again.dispatch_chains if name.endswith(".pay")} == {
        f"shop.{module}.pay" for module in ("direct", "parenthesised", "renamed", "qualified")
    }
    assert sorted(summarised) == ["alerts.py", "direct.py", "parenthesised.py", "qualified.py", "renamed.py"]
