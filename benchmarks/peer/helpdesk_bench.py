"""The peer side: django-helpdesk 2.6.1 used as a library from a minimal Django project.

Runs ONLY inside benchmarks/.peer-venv (see setup_peer.py); every command prints one JSON object.

    python helpdesk_bench.py --db X.sqlite3 seed --n 10000
    python helpdesk_bench.py --db X.sqlite3 create --count 1000
    python helpdesk_bench.py --db X.sqlite3 escalate [--nomail]     # sweep, re-sweep, summary

Design follows /work/shared/peers/django-helpdesk.md: DEBUG=False, USE_TZ, SITE_ID=1, teams mode
off, e-mail to a backend that builds each MIME message and discards it, queries counted with
connection.execute_wrapper, wall time with perf_counter around the measured call only.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import django
from django.conf import settings

JOURNALS = {"stock": [], "wal": ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"]}


class DiscardBackend:
    """Builds every message fully (what an SMTP backend does before sending) and discards it."""

    built = 0

    def __init__(self, *args, fail_silently=False, **kwargs):
        self.fail_silently = fail_silently

    def open(self):
        return True

    def close(self):
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def send_messages(self, messages):
        for message in messages:
            message.message().as_bytes()
            DiscardBackend.built += 1
        return len(messages)


def configure(db: Path, journal: str) -> None:
    settings.configure(
        DEBUG=False, USE_TZ=True, TIME_ZONE="UTC", SITE_ID=1, SECRET_KEY="bench",
        HELPDESK_TEAMS_MODE_ENABLED=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF="peer_urls",
        INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth",
                        "django.contrib.contenttypes", "django.contrib.sessions",
                        "django.contrib.messages", "django.contrib.sites",
                        "django.contrib.humanize", "rest_framework", "helpdesk"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(db)}},
        EMAIL_BACKEND=f"{__name__}.DiscardBackend" if __name__ != "__main__"
        else "__main__.DiscardBackend",
        DEFAULT_FROM_EMAIL="helpdesk@example.com",
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                    "APP_DIRS": True, "OPTIONS": {"context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages"]}}],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        LOGGING_CONFIG=None,
    )
    from django.db.backends.signals import connection_created

    def pragmas(sender, connection, **kwargs):
        with connection.cursor() as cursor:
            for pragma in JOURNALS[journal]:
                cursor.execute(pragma)

    connection_created.connect(pragmas)
    django.setup()


class Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, execute, sql, params, many, context):
        self.n += 1
        return execute(sql, params, many, context)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


ESCALATE_DAYS = (1, 1, 2, 2, 3, 3, 5, 7)


def seed(n: int, rng: random.Random) -> dict:
    from django.contrib.auth.models import User
    from django.db import transaction
    from django.utils import timezone
    from helpdesk.models import FollowUp, Queue, Ticket

    t0 = time.perf_counter()
    for name in ("created", "modified"):  # let the historical timestamps stick
        field = Ticket._meta.get_field(name)
        field.auto_now = field.auto_now_add = False
    now = timezone.now()
    hour = timedelta(hours=1)
    with transaction.atomic():
        queues = [Queue.objects.create(title=f"Queue {i}", slug=f"q{i}", escalate_days=d,
                                       updated_ticket_cc="cc@example.com" if i in (1, 4) else "",
                                       email_address=f"q{i}@example.com")
                  for i, d in enumerate(ESCALATE_DAYS)]
        agents = [User.objects.create_user(f"agent{i}", f"agent{i}@example.com", None,
                                           is_staff=True) for i in range(5)]
        due = 0
        batch_t, kinds = [], []

        def flush():
            made = Ticket.objects.bulk_create(batch_t)
            follow = []
            for t, kind in zip(made, kinds, strict=True):
                follow.append(FollowUp(ticket=t, title="Ticket Opened", date=t.created,
                                       public=True, comment=t.description))
                if kind == "closed":
                    follow.append(FollowUp(ticket=t, title="Ticket Closed", date=t.modified,
                                           public=True, comment="Closed"))
            FollowUp.objects.bulk_create(follow)
            batch_t.clear()
            kinds.clear()

        words = "search login upload slow error crash export plugin mobile sync".split()
        for i in range(n):
            q = rng.randrange(8)
            queue = queues[q]
            days = timedelta(days=queue.escalate_days)
            roll = rng.random()
            status, priority, on_hold, last = Ticket.OPEN_STATUS, rng.randint(2, 5), False, None
            if roll < 0.10:
                kind = "due"
                due += 1
                if rng.random() >= 0.85:
                    status = Ticket.REOPENED_STATUS
                created = now - days - 2 * hour - timedelta(seconds=rng.randrange(60 * 86400))
                if rng.random() < 0.30:
                    last = now - days - 2 * hour - timedelta(seconds=rng.randrange(86400))
                    created = min(created, last - hour)
            elif roll < 0.30:
                kind = "open"
                variant = rng.randrange(4)
                if variant == 0:  # inside its queue's window
                    created = now - days + 2 * hour + timedelta(
                        seconds=rng.randrange(max(1, int((days - 4 * hour).total_seconds()))))
                else:
                    created = now - days - 2 * hour - timedelta(seconds=rng.randrange(60 * 86400))
                    if variant == 1:
                        priority = 1
                    elif variant == 2:
                        on_hold = True
                    else:
                        last = now - timedelta(seconds=rng.randrange(
                            max(1, int((days - 2 * hour).total_seconds()))))
            else:
                kind = "closed"
                status = rng.choice((Ticket.RESOLVED_STATUS, Ticket.CLOSED_STATUS,
                                     Ticket.DUPLICATE_STATUS))
                created = now - timedelta(seconds=rng.randrange(365 * 86400))
            text = " ".join(rng.choice(words) for _ in range(45))
            batch_t.append(Ticket(
                title=f"Ticket {i} {rng.choice(words)}", queue=queue, created=created,
                modified=last or created + (hour if kind == "closed" else timedelta(0)),
                submitter_email=f"user{rng.randrange(5000)}@customer.test",
                assigned_to=agents[rng.randrange(5)] if rng.random() < 0.6 else None,
                status=status, on_hold=on_hold, description=text, priority=priority,
                last_escalation=last))
            kinds.append(kind)
            if len(batch_t) >= 5000:
                flush()
        flush()
    return {"seed_s": time.perf_counter() - t0, "tickets": n,
            "expected_due": due, "peak_rss_mib": rss_mib()}


def create(count: int) -> dict:
    from django.contrib.auth.models import User
    from django.db import connection
    from helpdesk.forms import TicketForm
    from helpdesk.models import Queue

    queues = list(Queue.objects.all())
    agent = User.objects.filter(is_staff=True).first()
    choices = [(q.id, q.title) for q in queues]
    rng = random.Random(7)
    lat, counter = [], Counter()
    DiscardBackend.built = 0
    with connection.execute_wrapper(counter):
        t0 = time.perf_counter()
        for i in range(count):
            s = time.perf_counter()
            form = TicketForm(data={
                "queue": str(queues[i % len(queues)].id), "title": f"Search returns nothing {i}",
                "body": "Since Monday search returns no results for any user. " * 4,
                "priority": str(rng.randint(1, 5)),
                "submitter_email": f"user{i % 5000}@customer.test",
                "assigned_to": str(agent.id) if i % 10 < 6 else "", "due_date": ""},
                queue_choices=choices)
            if not form.is_valid():
                raise SystemExit(f"form invalid: {form.errors}")
            form.save(user=agent)
            lat.append(time.perf_counter() - s)
        total = time.perf_counter() - t0
    return {"create_form_tps": count / total, "create_form_p50_ms": pct(lat, 50) * 1000,
            "create_form_p99_ms": pct(lat, 99) * 1000, "count": count,
            "create_form_queries_per_ticket": counter.n / count,
            "mails_per_ticket": DiscardBackend.built / count, "peak_rss_mib": rss_mib()}


def summary_queries() -> tuple[float, int]:
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone
    from helpdesk.models import Ticket

    counter = Counter()
    since = timezone.now() - timedelta(hours=24)
    with connection.execute_wrapper(counter):
        t0 = time.perf_counter()
        recent = Ticket.objects.filter(created__gte=since)
        list(recent.values("priority").annotate(n=Count("id")).order_by())
        list(recent.values("queue").annotate(n=Count("id")).order_by())
        list(Ticket.objects.filter(status__in=Ticket.OPEN_STATUSES).values("status")
             .annotate(n=Count("id")).order_by())
        list(Ticket.objects.filter(status__in=Ticket.OPEN_STATUSES).select_related("queue")
             .order_by("created")[:10])
        return time.perf_counter() - t0, counter.n


def escalate(nomail: bool) -> dict:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from helpdesk.models import Ticket

    Ticket.objects.count()
    baseline = rss_mib()
    if nomail:
        import helpdesk.models

        helpdesk.models.send_templated_mail = lambda *a, **k: True
    out: dict = {"rss_baseline_mib": baseline}
    started = timezone.now()
    DiscardBackend.built = 0
    counter = Counter()
    with connection.execute_wrapper(counter):
        t0 = time.perf_counter()
        call_command("escalate_tickets")
        sweep = time.perf_counter() - t0
    escalated = Ticket.objects.filter(last_escalation__gte=started).count()
    out.update(escalate_s=sweep, escalated=escalated, escalate_queries=counter.n,
               escalate_mails=DiscardBackend.built,
               escalate_per_ticket_ms=sweep / max(1, escalated) * 1000,
               escalate_queries_per_ticket=counter.n / max(1, escalated))
    counter = Counter()
    with connection.execute_wrapper(counter):
        t0 = time.perf_counter()
        call_command("escalate_tickets")
        out.update(escalate_resweep_s=time.perf_counter() - t0, escalate_resweep_queries=counter.n)
    times = []
    first = None
    for _ in range(5):
        s, q = summary_queries()
        first = s if first is None else first
        times.append(s)
    out.update(summary_s=statistics.median(times), summary_first_s=first, summary_queries=q,
               peak_rss_mib=rss_mib())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--journal", choices=sorted(JOURNALS), default="wal")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("migrate")
    p = sub.add_parser("seed")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--seed", type=int, default=42)
    p = sub.add_parser("create")
    p.add_argument("--count", type=int, default=1000)
    sub.add_parser("summary")
    p = sub.add_parser("escalate")
    p.add_argument("--nomail", action="store_true")
    args = parser.parse_args()
    configure(args.db, args.journal)
    if args.cmd == "migrate":
        from django.core.management import call_command

        t0 = time.perf_counter()
        call_command("migrate", verbosity=0)
        result = {"migrate_s": time.perf_counter() - t0}
    elif args.cmd == "seed":
        result = seed(args.n, random.Random(args.seed))
    elif args.cmd == "create":
        result = create(args.count)
    elif args.cmd == "summary":
        times = [summary_queries()[0] for _ in range(5)]
        result = {"summary_s": statistics.median(times), "summary_first_s": times[0],
                  "peak_rss_mib": rss_mib()}
    else:
        result = escalate(args.nomail)
    result["journal"] = args.journal
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
