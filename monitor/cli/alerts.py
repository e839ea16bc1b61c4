"""Alerts and what follows from them: the `alerts` and `subscribers` groups, `risk`."""

from __future__ import annotations

import click

from monitor.cli import AppContext, actor, cli, emit, json_option, pass_app
from monitor.vocabulary import ALERT_STATUSES, LABELS, SEVERITIES, SUBSCRIBER_MODES


def _place(place: str, country: str | None) -> str:
    return place + (f" [{country}]" if country else "")


@cli.group()
def alerts() -> None:
    """Alerts: events that articles about one facility and signal add up to."""


@alerts.command("list")
@click.option("--status", type=click.Choice(ALERT_STATUSES), help="Only alerts in this state.")
@click.option("--min-severity", type=click.Choice(SEVERITIES), default="low", show_default=True,
              help="Only alerts at or above this severity.")
@click.option("--limit", default=50, show_default=True, help="Newest first, at most this many.")
@json_option
@pass_app
def alerts_list(app: AppContext, status: str | None, min_severity: str, limit: int, as_json: bool) -> None:
    """One line per alert: facility (or candidate), labels, severity, outlets, status, first and last seen."""
    from monitor.alerts.queries import list_alerts

    with app.reading() as session:
        rows = list_alerts(session, status=status, min_severity=min_severity, limit=limit)
    emit(rows, as_json=as_json, empty="No alerts.", to_json=lambda r: {
        "id": r.alert.id, "place": r.place, "country": r.country, "facility_id": r.alert.facility_id,
        "labels": r.alert.labels, "severity": r.alert.severity, "status": r.alert.status,
        "outlets": r.alert.outlet_count, "first_seen_at": r.alert.first_seen_at.isoformat(),
        "last_seen_at": r.alert.last_seen_at.isoformat()},
        line=lambda r: (f"#{r.alert.id:<5} {r.alert.severity.upper():<8} {r.alert.status:<9} "
                        f"{_place(r.place, r.country)} | {', '.join(r.alert.labels)} | "
                        f"{r.alert.outlet_count} outlet{'s' if r.alert.outlet_count != 1 else ''} | "
                        f"{r.alert.first_seen_at:%Y-%m-%d %H:%M} – {r.alert.last_seen_at:%Y-%m-%d %H:%M} UTC"))


@alerts.command("show")
@click.argument("alert_id", type=int)
@pass_app
def alerts_show(app: AppContext, alert_id: int) -> None:
    """One alert: why its severity, its articles, and its audit trail."""
    from monitor.alerts.queries import alert_detail

    with app.reading() as session:
        detail = alert_detail(session, alert_id)
    alert = detail.alert
    click.echo(f"Alert #{alert.id}: {_place(detail.place, detail.country)}")
    click.echo(f"  labels:    {', '.join(alert.labels) or 'coverage went quiet'}")
    click.echo(f"  severity:  {alert.severity} — {alert.severity_reason}")
    click.echo(f"  status:    {alert.status}; {alert.outlet_count} independent outlet(s); "
               f"{alert.first_seen_at:%Y-%m-%d %H:%M} – {alert.last_seen_at:%Y-%m-%d %H:%M} UTC")
    for article in detail.articles:
        click.echo(f"  - {article.title} ({article.outlet or 'unknown outlet'})\n    {article.url}")
    for change in detail.audit:
        what = f"{change.from_status} -> {change.to_status}" if change.from_status != change.to_status else "note"
        click.echo(f"  {change.at:%Y-%m-%d %H:%M} {change.actor}: {what}" + (f": {change.note}" if change.note else ""))


@alerts.command("set-status")
@click.argument("alert_id", type=int)
@click.argument("status", type=click.Choice(ALERT_STATUSES))
@click.option("--as", "actor_name", default=None, help="Who is deciding (default: your login).")
@click.option("--note", default=None, help="Why, kept in the audit trail.")
@pass_app
def alerts_set_status(app: AppContext, alert_id: int, status: str, actor_name: str | None, note: str | None) -> None:
    """Confirm, dismiss (false positive), escalate or resolve an alert; confirmations and dismissals become
    labelled feedback for retraining."""
    from monitor.alerts.triage import change_status

    app.change(lambda session: change_status(session, alert_id, status, actor_name or actor(), note),
               f"Alert #{alert_id} is now {status}.")


@alerts.command("note")
@click.argument("alert_id", type=int)
@click.argument("text")
@click.option("--as", "actor_name", default=None, help="Who is writing (default: your login).")
@pass_app
def alerts_note(app: AppContext, alert_id: int, text: str, actor_name: str | None) -> None:
    """Add a note to an alert's audit trail."""
    from monitor.alerts.triage import add_note

    app.change(lambda session: add_note(session, alert_id, actor_name or actor(), text), f"Noted on alert #{alert_id}.")


@cli.command()
@click.option("--recompute", is_flag=True, help="Recompute every facility's score now (the worker does it daily).")
@click.option("--limit", default=20, show_default=True, help="How many facilities to show, highest first.")
@json_option
@pass_app
def risk(app: AppContext, recompute: bool, limit: int, as_json: bool) -> None:
    """Facility risk scores (0-100), highest first, with the factors behind each."""
    from monitor.alerts.risk import latest_risk_scores, recompute_risk

    app.require_store()
    if recompute:
        recompute_risk(app.engine)
    with app.reading() as session:
        rows = latest_risk_scores(session, limit)

    def line(pair) -> str:
        row, facility = pair
        top = sorted(row.factors, key=lambda f: -f["points"])[:3]
        return (f"{row.score:5.1f}  {facility.name} [{facility.country}]  ({row.day})  "
                + "; ".join(f"{f['factor']} +{f['points']:g}: {f['detail']}" for f in top))

    emit(rows, as_json=as_json, line=line,
         to_json=lambda pair: {"facility": pair[1].slug, "name": pair[1].name, "country": pair[1].country,
                               "score": pair[0].score, "day": str(pair[0].day), "factors": pair[0].factors},
         empty="No risk scores yet; run `monitor risk --recompute` (the worker computes them daily).")


@cli.group()
def subscribers() -> None:
    """Who receives alert mail, and which alerts."""


@subscribers.command("add")
@click.argument("who", metavar="EMAIL|NAME")
@click.option("--url", "urls", multiple=True, metavar="URL",
              help="A notification URL (Apprise form: json://host/path, slack://..., tgram://..., ntfy://topic, "
                   "matrix://..., signal://...); repeatable; given, replaces the subscriber's URLs.")
@click.option("--no-urls", is_flag=True, help="Remove every notification URL (keeps mail).")
@click.option("--facility", "facilities_", multiple=True, metavar="NAME",
              help="Only alerts at this facility (repeatable).")
@click.option("--country", "countries", multiple=True, metavar="CC", help="Only alerts in this country (repeatable).")
@click.option("--label", "labels", multiple=True, metavar="LABEL",
              help=f"Only alerts with this label (repeatable): {', '.join(LABELS)}.")
@click.option("--min-severity", type=click.Choice(SEVERITIES), default="low",
              show_default=True, help="Only alerts at or above this severity.")
@click.option("--mode", type=click.Choice(SUBSCRIBER_MODES), default="immediate", show_default=True,
              help="A notification per alert, or one digest a day.")
@click.option("--digest-hour", type=click.IntRange(0, 23), default=None, help="UTC hour of the daily digest.")
@pass_app
def subscribers_add(app: AppContext, who: str, urls, no_urls, facilities_, countries, labels, min_severity, mode,
                    digest_hour) -> None:
    """Add a subscriber, or replace the rules of an existing one.

    EMAIL|NAME is an email address, or a name for a subscriber reached only through --url. URLs are shown
    masked everywhere (their tokens and passwords as ****).
    """
    from monitor.notify.channels import mask_url
    from monitor.notify.subscriptions import is_email, save_subscriber

    if "@" in who and not is_email(who):
        raise click.BadParameter(f"{who!r} is not an email address", param_hint="EMAIL|NAME")
    bad_labels = [label for label in labels if label not in LABELS]
    if bad_labels:
        raise click.BadParameter(f"unknown label(s) {bad_labels}; labels: {', '.join(LABELS)}", param_hint="--label")
    if not is_email(who) and not urls:
        raise click.BadParameter(f"{who!r} is not an email address; a subscriber known by a name needs --url",
                                 param_hint="EMAIL|NAME")

    def save(session):
        change = save_subscriber(session, who, actor(), urls=[] if no_urls else (list(urls) if urls else None),
                                 facilities=facilities_, countries=countries, labels=labels,
                                 min_severity=min_severity, mode=mode, digest_hour=digest_hour)
        return change.created, [mask_url(u) for u in change.subscriber.notify_urls or []]

    app.change(save, lambda result: f"{'Added' if result[0] else 'Updated'} {who}"
               + (f" (URLs: {', '.join(result[1])})" if result[1] else "") + ".")


def _subscriber_lines(s: dict) -> list[str]:
    rules = [f"min {s['min_severity']}",
             s["mode"] + (f" at {s['digest_hour']:02d}:00 UTC" if s["digest_hour"] is not None else "")]
    if s["facilities"]:
        rules.append("facilities: " + ", ".join(s["facilities"]))
    if s["countries"]:
        rules.append("countries: " + ", ".join(s["countries"]))
    if s["labels"]:
        rules.append("labels: " + ", ".join(s["labels"]))
    return ([f"{s['subscriber']}  ({'; '.join(rules)})" + ("" if s["active"] else "  [inactive]")]
            + [f"    url {number}: {url}" for number, url in enumerate(s["urls"], 1)])


@subscribers.command("list")
@json_option
@pass_app
def subscribers_list(app: AppContext, as_json: bool) -> None:
    """Every subscriber, its rules and its notification URLs (masked)."""
    from monitor.notify.subscriptions import subscriber_rows

    with app.reading() as session:
        rows = subscriber_rows(session)
    emit(rows, as_json=as_json, line=_subscriber_lines,
         empty="No subscribers; add one with `monitor subscribers add EMAIL` (or NAME --url URL).")


@subscribers.command("remove")
@click.argument("who", metavar="EMAIL|NAME")
@pass_app
def subscribers_remove(app: AppContext, who: str) -> None:
    """Stop notifying a subscriber (what was sent stays in the audit)."""
    from monitor.notify.subscriptions import remove_subscriber

    app.change(lambda session: remove_subscriber(session, who, actor()), f"Removed {who}.")
