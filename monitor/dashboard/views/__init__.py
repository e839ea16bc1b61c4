"""One module per dashboard page; each has `render(ctx)`. The sidebar offers them in this order."""

from __future__ import annotations

from typing import Callable

from monitor.dashboard.context import DashboardContext
from monitor.dashboard.views import activity, alerts, facilities, feeds, model, reports, subscriptions

PAGES: dict[str, Callable[[DashboardContext], None]] = {
    "Alerts": alerts.render,
    "Facilities": facilities.render,
    "Feeds": feeds.render,
    "Model": model.render,
    "Reports": reports.render,
    "Activity": activity.render,
    "Subscriptions": subscriptions.render,
}
# Pages offered only from this role up (the page checks again); the rest are for every logged-in user.
PAGE_ROLES: dict[str, str] = {"Activity": "admin"}
