"""The worker: a separate long-running process in which APScheduler 3 drives the pipeline on schedule.

The dashboard never starts a scheduler (Streamlit reruns would start duplicates). Jobs have fixed ids
and live in the store's own database (SQLAlchemy job store), so a restarted worker replaces its jobs
instead of adding copies; `coalesce` and `max_instances=1` keep a slow cycle from piling up runs.

Several workers may share one store: each runs its own scheduler over the shared job store (a job may
then run in one worker or in several at about the same time), and the jobs themselves are safe to run
at once — feeds and mail are claimed row by row, and the read-decide-write steps run in one process at
a time (see monitor/flow.py). When the database goes away the worker logs it, keeps running and retries
on the next tick.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from monitor.flow import ANALYSIS, run_daily, run_poll
from monitor.ingest.feeds import FeedsFileError, read_feeds_file, sync_feeds
from monitor.notify.digest import queue_due_digests
from monitor.notify.outbox import send_due
from monitor.settings import Settings
from monitor.store.db import StoreError, describe_store_error, exclusive, session_scope
from monitor.store.schema import utcnow

log = logging.getLogger("monitor.worker")

MISFIRE_GRACE_SECONDS = 5 * 60
# How soon the scheduler looks at its job store again after the database failed to answer.
STORE_RETRY_SECONDS = 10
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS}


@dataclass
class WorkerContext:
    settings: Settings
    engine: Engine
    stopping: threading.Event


# Jobs are stored by textual reference ("monitor.worker:sync_feeds_job") with no arguments, so the job
# store never has to pickle an engine; they read the running worker's context from here.
_context: WorkerContext | None = None


def _require_context() -> WorkerContext:
    if _context is None:
        raise RuntimeError("the worker context is not set; jobs run only inside `monitor worker`")
    return _context


def _store_errors_logged(job):
    """A job that meets an unreachable or failing database logs one clear line; the next tick retries."""
    @functools.wraps(job)
    def run() -> None:
        try:
            job()
        except (OperationalError, DBAPIError) as exc:
            context = _context
            url = context.settings.database_url if context else "the store"
            log.error("%s skipped: %s; retrying on the next tick", job.__name__, describe_store_error(exc, url))
        except StoreError as exc:
            log.error("%s skipped: %s; retrying on the next tick", job.__name__, exc)
    return run


class ResilientJobStore(SQLAlchemyJobStore):
    """The shared job store, riding out a database outage instead of stopping the scheduler.

    APScheduler already retries when reading due jobs fails; writing a job's next run time and reading
    the next wake-up are not guarded, and an exception there would end the worker's main loop.
    """

    def update_job(self, job) -> None:
        try:
            super().update_job(job)
        except (OperationalError, DBAPIError) as exc:
            # The job then runs again at the next look, which coalescing makes harmless.
            log.warning("job store not written (%s keeps its old next run time): %s", job.id, _described(exc))

    def get_next_run_time(self):
        try:
            return super().get_next_run_time()
        except (OperationalError, DBAPIError) as exc:
            log.warning("job store not read (looking again in %d s): %s", STORE_RETRY_SECONDS, _described(exc))
            return datetime.now(timezone.utc) + timedelta(seconds=STORE_RETRY_SECONDS)


def _described(exc: Exception) -> str:
    context = _context
    return describe_store_error(exc, context.settings.database_url if context else "the store")


@_store_errors_logged
def sync_feeds_job() -> None:
    """Pick up edits to feeds.yaml without a restart."""
    context = _require_context()
    try:
        specs = read_feeds_file(context.settings.feeds_file)
    except FeedsFileError as exc:
        # A broken edit to the file must not stop polling of the feeds already known.
        log.error("feeds file not synced: %s", exc)
        return
    # Two workers adding the same new feed at once would collide on its unique name.
    with exclusive(context.engine, "feeds-sync"), session_scope(context.engine) as session:
        result = sync_feeds(session, specs, context.settings.allow_private_feeds)
    if result.added or result.changed or result.removed or result.refused:
        log.info(result.summary())


@_store_errors_logged
def poll_due_feeds_job() -> None:
    """One cycle over the feeds that are due; each feed's own schedule decides when it is due."""
    context = _require_context()
    report = run_poll(context.engine, context.settings, stopping=context.stopping)
    if report.cycle.outcomes or report.classified:
        log.info(report.summary())
    for outcome in report.cycle.outcomes:
        if outcome.status == "failed":
            log.warning("feed %s failed: %s%s", outcome.feed, outcome.error, " (parked)" if outcome.parked else "")


@_store_errors_logged
def send_outbox_job() -> None:
    """Retries and anything queued by hand: mail waits in the outbox until SMTP takes it."""
    context = _require_context()
    with exclusive(context.engine, ANALYSIS):
        queue_due_digests(context.engine, context.settings)
    report = send_due(context.engine, context.settings)
    if report.sent or report.failed or report.unconfirmed:
        log.info(report.summary())


@_store_errors_logged
def daily_job() -> None:
    """Risk scores for every facility (for the trend charts) and "coverage went quiet" alerts."""
    context = _require_context()
    scored, quiet, mail = run_daily(context.engine, context.settings)
    log.info("daily pass: %d risk scores, %d quiet-coverage alerts; %s", scored, len(quiet), mail.summary())


# --- Retraining with feedback (branch encoder): requested on the dashboard's Model page, run here -------

def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _gone_from_this_host(worker: str) -> bool:
    """A worker on this host whose process no longer exists (a retrain it ran can never finish)."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@_store_errors_logged
def retrain_job() -> None:
    """Run the oldest queued retrain request (one at a time per worker; the new version stays inactive)."""
    from monitor.classify.registry import claim_retrain_request, run_retrain_request

    context = _require_context()
    request_id = claim_retrain_request(context.engine, worker_identity())
    if request_id is None:
        return
    log.info("retraining with feedback (request %d)", request_id)
    row = run_retrain_request(context.engine, context.settings, request_id)
    log.log(logging.INFO if row.state == "done" else logging.ERROR, "retrain request %d %s: %s", request_id,
            row.state, row.message)


def build_scheduler(context: WorkerContext) -> BlockingScheduler:
    jobstore = ResilientJobStore(engine=context.engine, tablename="apscheduler_jobs")
    # Workers starting together would race to create the table (PostgreSQL refuses the second CREATE).
    with exclusive(context.engine, "job-store"):
        jobstore.jobs_t.create(context.engine, checkfirst=True)
    scheduler = BlockingScheduler(
        jobstores={"default": jobstore},
        # Three threads: a retrain (minutes to an hour) holds one while polling and mail go on in the others.
        executors={"default": ThreadPoolExecutor(max_workers=3)},
        job_defaults=JOB_DEFAULTS,
        jobstore_retry_interval=STORE_RETRY_SECONDS,
        timezone=timezone.utc,
    )
    scheduler.add_job("monitor.worker:sync_feeds_job", "interval", minutes=context.settings.poll_interval_minutes,
                      id="sync_feeds", name="sync feeds.yaml", replace_existing=True, next_run_time=utcnow())
    # Frequent and cheap when nothing is due; a due feed waits at most one tick past its time.
    scheduler.add_job("monitor.worker:poll_due_feeds_job", "interval", seconds=context.settings.worker_tick_seconds,
                      id="poll_due_feeds",
                      name="poll due feeds", replace_existing=True, next_run_time=utcnow())
    scheduler.add_job("monitor.worker:send_outbox_job", "interval", seconds=context.settings.worker_tick_seconds,
                      id="send_outbox", name="send due mail and digests", replace_existing=True)
    scheduler.add_job("monitor.worker:daily_job", "cron", hour=0, minute=30, id="daily", name="daily risk pass",
                      replace_existing=True)
    # Training takes minutes to an hour: its own job, so polling and mail go on meanwhile.
    scheduler.add_job("monitor.worker:retrain_job", "interval", seconds=context.settings.retrain_check_seconds,
                      id="retrain", name="retrain with feedback when requested", replace_existing=True,
                      next_run_time=utcnow())
    return scheduler


def run_worker(settings: Settings, engine: Engine) -> None:
    """Run until SIGTERM or SIGINT; the job in progress finishes before the process exits."""
    global _context
    _context = WorkerContext(settings=settings, engine=engine, stopping=threading.Event())
    scheduler = build_scheduler(_context)

    def stop(signum, _frame) -> None:
        log.info("received %s: finishing the current step, then exiting", signal.Signals(signum).name)
        _context.stopping.set()
        # Shut down from a helper thread: shutdown(wait=True) joins the job threads, which must not
        # happen inside the signal handler that interrupted the scheduler's own loop.
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

    from monitor.classify.registry import fail_abandoned_requests

    try:
        abandoned = fail_abandoned_requests(engine, _gone_from_this_host)
    except (OperationalError, DBAPIError) as exc:
        abandoned = 0
        log.warning("retrain requests not checked: %s", _described(exc))
    if abandoned:
        log.warning("%d retrain request(s) were left running by a stopped worker; marked failed", abandoned)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker started: store %s, feeds file %s", settings.database_url, settings.feeds_file)
    try:
        scheduler.start()
    finally:
        _context = None
        log.info("worker stopped")
