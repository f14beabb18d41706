"""A Celery worker killed mid-task: the task runs again (acks_late) and its
effect happens once.

Real workers (subprocesses, solo pool, so the task runs in the process that is
killed) consume a queue of their own on the RabbitMQ at 127.0.0.1:5672 and
work on this test's PostgreSQL database. The task is ``vouchers.deliver_reminder``,
wrapped by ``tests/celery_probe_tasks.py`` so that its first attempt waits,
before or after the delivery, for the ``kill -9``. A second worker then gets
the unacknowledged message again; the reminder's e-mails (written to files by
the worker) must each go out once.
"""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from urllib.parse import quote

import pytest
from celery import Celery
from django.db import connection
from kombu import Connection
from kombu.exceptions import OperationalError

from tests.accounts.factories import EnterpriseFactory
from tests.celery_probe_tasks import journal_read
from tests.programs.factories import ProgramFactory
from tests.vouchers.factories import issue
from vouchers.models import VoucherReminder

ROOT = Path(__file__).resolve().parent.parent
BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
# Every wait is bounded; a worker is ready about two seconds after it starts.
WAIT_SECONDS = 60
RECIPIENTS = [["ops@example.com", "en"], ["boss@example.com", "zh-hans"]]

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue of this test's own on the broker, deleted afterwards."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the worker subprocess must see the test database")
    try:
        with Connection(BROKER_URL, connect_timeout=3) as broker:
            broker.ensure_connection(max_retries=1)
    except (OSError, OperationalError) as error:
        message = f"needs RabbitMQ at {BROKER_URL} for real Celery workers ({error})"
        if os.environ.get("REQUIRE_BROKER") == "1":  # .ci/run: CI has RabbitMQ
            pytest.fail(message)
        pytest.skip(message)
    name = f"test-worker-kill-{uuid.uuid4().hex[:12]}"
    yield name
    with Connection(BROKER_URL, connect_timeout=3) as broker:
        broker.default_channel.queue_delete(queue=name)
        broker.default_channel.exchange_delete(exchange=name)


def _database_url() -> str:
    """This test's database (pytest-django's, committed to: transaction=True)."""
    settings = connection.settings_dict
    password = f":{quote(settings['PASSWORD'])}" if settings["PASSWORD"] else ""
    return (
        f"postgres://{quote(settings['USER'] or 'postgres')}{password}"
        f"@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
        f"/{quote(settings['NAME'])}"
    )


class Workers:
    """Celery workers on one queue, and a client that sends them tasks."""

    def __init__(self, queue: str, directory: Path) -> None:
        self.queue = queue
        self.directory = directory
        self.mail_dir = directory / "mail"
        self.mail_dir.mkdir()
        self.started: dict[subprocess.Popen[bytes], str] = {}
        # A client app of its own: in the test process the project's app runs
        # tasks eagerly (no CELERY_BROKER_URL), and must stay that way.
        self.client = Celery("worker-kill-test", broker=BROKER_URL)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": BROKER_URL,
            # The file backend, so that the test can count what was sent
            # (environ drops one slash before the absolute path).
            "EMAIL_URL": f"filemail:///{self.mail_dir}",
            "PRIVATE_MEDIA_ROOT": str(directory / "private"),
        }

    def start(self) -> subprocess.Popen[bytes]:
        number = len(self.started) + 1
        name = f"worker{number}-{self.queue}@test"
        with (self.directory / f"worker{number}.log").open("wb") as log:
            worker = subprocess.Popen(  # noqa: S603 - our own Celery app
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--pool=solo",
                    "--concurrency=1",
                    "--loglevel=INFO",
                    f"--hostname={name}",
                    f"--queues={self.queue}",
                    "--include=tests.celery_probe_tasks",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.started[worker] = name
        return worker

    def kill(self, worker: subprocess.Popen[bytes]) -> None:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        assert worker.returncode == -signal.SIGKILL

    def stop(self, worker: subprocess.Popen[bytes]) -> None:
        """Warm shutdown: the worker ends its task and gives back the rest."""
        if worker.poll() is not None:
            return
        # By remote control rather than SIGTERM: an idle worker without event
        # heartbeats has no timer to wake it, and notices a signal only some
        # ten seconds later.
        self.client.control.shutdown(destination=[self.started[worker]])
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)

    def deliver(self, reminder: VoucherReminder, journal: Path, hold: str) -> None:
        """Enqueue the reminder's delivery; its first attempt holds ``hold`` it."""
        self.client.send_task(
            "tests.deliver_reminder_held", args=[reminder.pk, str(journal), hold], queue=self.queue
        )

    def pass_barrier(self) -> None:
        """Return once the worker has acknowledged every message enqueued so far.

        A worker acknowledges a finished task on the next turn of its event
        loop, so "finished" in a journal does not yet mean acknowledged.
        """
        journal = self.directory / f"barrier-{uuid.uuid4().hex}.jsonl"
        self.client.send_task("tests.barrier", args=[str(journal)], queue=self.queue)
        self.wait_for("the barrier task", lambda: bool(journal_read(journal)))

    def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {WAIT_SECONDS} s\n{self.logs()}")
            time.sleep(0.05)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-3000:]}"
            for path in sorted(self.directory.glob("worker*.log"))
        )

    def mails(self) -> list[Message]:
        # Django's file backend ends every message with a line of 79 dashes.
        return [
            email.message_from_string(chunk)
            for path in sorted(self.mail_dir.glob("*.log"))
            for chunk in path.read_text().split("\n" + "-" * 79 + "\n")
            if chunk.strip()
        ]


@pytest.fixture
def workers(queue: str, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(queue, tmp_path)
    try:
        yield started
    finally:
        # Before pytest-django flushes the database: no worker may still be
        # connected to it.
        for worker in started.started:
            started.stop(worker)
        started.client.close()


def _reminder() -> VoucherReminder:
    voucher = issue(ProgramFactory(), EnterpriseFactory(contact_email="ops@example.com"))
    return VoucherReminder.objects.create(
        voucher=voucher, kind=VoucherReminder.Kind.LOW_BALANCE, recipients=RECIPIENTS
    )


def _steps(journal: Path) -> list[str]:
    return [entry["step"] for entry in journal_read(journal)]


def _reached(journal: Path, *steps: str) -> Callable[[], bool]:
    return lambda: _steps(journal) == list(steps)


def _sent_to(workers: Workers) -> list[str]:
    return sorted(message["To"] for message in workers.mails())


@pytest.mark.parametrize("hold", ["before", "after"])
def test_a_worker_killed_mid_task_has_the_task_run_again_and_the_reminder_sent_once(
    workers: Workers, tmp_path: Path, hold: str
) -> None:
    """Killed before the delivery, or after it committed but before the ack:
    either way the message comes back, and each recipient gets one e-mail."""
    reminder = _reminder()
    journal = tmp_path / "journal.jsonl"
    workers.deliver(reminder, journal, hold)

    first = workers.start()
    done_first = {"before": ["started"], "after": ["started", "delivered"]}[hold]
    workers.wait_for(f"hold {hold} the delivery", _reached(journal, *done_first, f"holding {hold}"))
    workers.kill(first)

    second = workers.start()
    workers.wait_for("second attempt", lambda: _steps(journal)[-1:] == ["finished"])
    workers.pass_barrier()
    workers.stop(second)

    attempts = [entry for entry in journal_read(journal) if entry["step"] == "started"]
    assert [entry["pid"] for entry in attempts] == [first.pid, second.pid]
    # The second attempt is the broker's redelivery of the unacknowledged
    # message, and after it the message was acknowledged (the barrier passed).
    assert [entry["redelivered"] for entry in attempts] == [False, True]
    assert _sent_to(workers) == ["boss@example.com", "ops@example.com"]
    reminder.refresh_from_db()
    assert reminder.sent_at is not None


def test_a_task_finished_before_the_kill_is_acknowledged_and_not_run_again(
    workers: Workers, tmp_path: Path
) -> None:
    """With prefetch 1 the broker hands out the next message only once the
    previous one is acknowledged: while the worker holds the second task the
    first is acked, so the kill brings back the second alone."""
    finished, held = _reminder(), _reminder()
    finished_journal, held_journal = tmp_path / "finished.jsonl", tmp_path / "held.jsonl"
    workers.deliver(finished, finished_journal, "")
    workers.deliver(held, held_journal, "before")

    first = workers.start()
    workers.wait_for("the second task holding", _reached(held_journal, "started", "holding before"))
    workers.kill(first)

    second = workers.start()
    workers.wait_for("the second task finishing", lambda: _steps(held_journal)[-1:] == ["finished"])
    workers.pass_barrier()
    workers.stop(second)

    assert _steps(finished_journal) == ["started", "delivered", "finished"]
    assert {entry["pid"] for entry in journal_read(finished_journal)} == {first.pid}
    assert [entry["pid"] for entry in journal_read(held_journal)][-1] == second.pid
    assert _sent_to(workers) == ["boss@example.com"] * 2 + ["ops@example.com"] * 2
