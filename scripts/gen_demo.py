#!/usr/bin/env python3
"""Generates Scoreboard's demo data set into public/demo/ (Python stdlib only).

The data is deterministic (fixed seed): running this script again gives the
same bytes, so the committed files are reproducible.

What it models (issue 3, "Demo data"):
  * 40 engineers on the roster in 4 teams, plus one contractor who uses Claude
    Code but is not on the roster;
  * 16 complete ISO weeks, Monday 2026-07-27 .. Sunday 2026-11-15, and the
    current week 2026-11-16 .. Saturday 2026-11-21, which is partial: the demo
    is viewed "as of" Sunday 2026-11-22 (UTC), written to manifest.json;
  * growing adoption: engineers start at different weeks, so weekly active
    engineers climb from a handful to most of the roster;
  * one team (Mobile) lagging: it starts later and uses it less often;
  * three people who never start, two who tried it and lapsed;
  * quieter weekends, a few heavy users (the power users), acceptance around 90 %.

Files written:
  claude_code_usage.csv  a daily per-person export, in the column layout of
                         the claude.ai Claude Code export the importer reads
  roster.csv             email,name,team,start_date
  manifest.json          the list of files and the as_of date

Usage: scripts/gen_demo.py [--out DIR]
"""

import argparse
import csv
import datetime as dt
import io
import json
import os
import random

SEED = 20261122
FIRST_MONDAY = dt.date(2026, 7, 27)
COMPLETE_WEEKS = 16
LAST_DAY = dt.date(2026, 11, 21)  # Saturday of the current, partial week
AS_OF = dt.date(2026, 11, 22)  # Sunday: the week 2026-11-16.. is still in progress
DOMAIN = "example.com"

TEAMS = ["Platform", "Payments", "Web", "Mobile"]
LAGGING_TEAM = "Mobile"

FIRST_NAMES = [
    "Ada", "Ben", "Chloe", "Dev", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Kemi", "Liam", "Maya", "Noah", "Olga", "Priya", "Quentin", "Rosa", "Sami", "Tara",
    "Umar", "Vera", "Wen", "Ximena", "Yusuf", "Zoe", "Arjun", "Bianca", "Carlos", "Dana",
    "Emil", "Fatima", "Goran", "Hana", "Ivan", "Julia", "Kofi", "Lena", "Marco", "Nadia",
]
LAST_NAMES = [
    "Okafor", "Lindqvist", "Moreau", "Patel", "Yilmaz", "Haddad", "Hopper", "Bernard", "Castro", "Weber",
    "Adeyemi", "Murphy", "Cohen", "Schmidt", "Petrova", "Nair", "Dubois", "Alvarez", "Virtanen", "Singh",
    "Farouk", "Novak", "Zhang", "Ruiz", "Demir", "Fischer", "Mehta", "Rossi", "Silva", "Kowalski",
    "Larsen", "Rahman", "Horvat", "Sato", "Popov", "Becker", "Mensah", "Vogel", "Romano", "Karimi",
]

HEADER = [
    "Date", "Email", "Sessions", "Lines accepted", "Lines removed", "Commits",
    "Pull requests", "Accepted edits", "Rejected edits", "Spend (USD)",
]


def make_people(rng):
    """The roster plus each person's behaviour: when they start, how often and how much."""
    people = []
    for i in range(40):
        first, last = FIRST_NAMES[i], LAST_NAMES[i]
        team = TEAMS[i % 4]
        email = f"{first.lower()}.{last.lower()}@{DOMAIN}"
        # Seats were assigned in waves before and during the period.
        start = FIRST_MONDAY - dt.timedelta(days=rng.choice([60, 45, 30, 14, 0]))
        if team == LAGGING_TEAM:
            start_week = rng.randint(8, 15)
            frequency = rng.uniform(0.12, 0.3)
        else:
            # Adoption grows: early adopters in week 0-2, most by week 10.
            start_week = min(int(rng.triangular(0, 13, 3)), 14)
            frequency = rng.uniform(0.35, 0.8)
        people.append({
            "email": email, "name": f"{first} {last}", "team": team, "seat": start,
            "start_week": start_week, "frequency": frequency,
            "intensity": rng.lognormvariate(0.0, 0.45), "stop_week": None, "never": False,
        })
    # Three people who have not started (one in the lagging team).
    for idx in (7, 19, 34):
        people[idx]["never"] = True
    # Two early adopters who lapsed after a few weeks.
    for idx, stop in ((5, 6), (22, 8)):
        people[idx]["start_week"] = 1
        people[idx]["stop_week"] = stop
    # Heavy users: steady and well above the rest (the power users).
    for idx in (0, 9, 13, 26, 32):
        people[idx]["start_week"] = 0
        people[idx]["frequency"] = 0.9
        people[idx]["intensity"] = 2.6 + 0.3 * (idx % 3)
    # Someone who joined the company mid-period, from the seat date onwards.
    people[30]["seat"] = FIRST_MONDAY + dt.timedelta(weeks=9)
    people[30]["start_week"] = 10
    # A contractor using Claude Code who is not on the roster.
    contractor = {
        "email": f"sam.contractor@{DOMAIN}", "name": None, "team": None, "seat": None,
        "start_week": 9, "frequency": 0.5, "intensity": 0.8, "stop_week": None, "never": False,
    }
    return people, contractor


def day_row(rng, day, person):
    """One active person-day, or None when the person did not use Claude Code that day."""
    week = (day - FIRST_MONDAY).days // 7
    if person["never"] or week < person["start_week"]:
        return None
    if person["stop_week"] is not None and week >= person["stop_week"]:
        return None
    # Ramp up over the first weeks after starting.
    ramp = min(1.0, 0.45 + 0.15 * (week - person["start_week"]))
    p = person["frequency"] * ramp
    if day.weekday() >= 5:
        p *= 0.12
    if rng.random() >= p:
        return None
    k = person["intensity"]
    sessions = max(1, int(rng.gauss(2.5 * k, 1.0)))
    lines_added = max(0, int(rng.gauss(140 * k, 60 * k)))
    lines_removed = int(lines_added * rng.uniform(0.15, 0.45))
    commits = max(0, int(rng.gauss(1.2 * k, 1.0)))
    pull_requests = 1 if rng.random() < 0.18 * k else 0
    decisions = max(1, int(rng.gauss(14 * k, 5)))
    # Acceptance improves as people get used to it (about 86 % → 94 %).
    accept_p = min(0.97, 0.86 + 0.005 * week + rng.uniform(-0.03, 0.03))
    accepted = sum(1 for _ in range(decisions) if rng.random() < accept_p)
    rejected = decisions - accepted
    spend = round(max(0.2, rng.gauss(4.0 * k, 1.5 * k)), 2)
    return [
        day.isoformat(), person["email"], sessions, lines_added, lines_removed,
        commits, pull_requests, accepted, rejected, f"{spend:.2f}",
    ]


def generate():
    rng = random.Random(SEED)
    people, contractor = make_people(rng)
    rows = []
    day = FIRST_MONDAY
    while day <= LAST_DAY:
        for person in people + [contractor]:
            row = day_row(rng, day, person)
            if row is not None:
                rows.append(row)
        day += dt.timedelta(days=1)

    usage = io.StringIO()
    w = csv.writer(usage, lineterminator="\n")
    w.writerow(HEADER)
    w.writerows(rows)

    roster = io.StringIO()
    w = csv.writer(roster, lineterminator="\n")
    w.writerow(["email", "name", "team", "start_date"])
    for p in people:
        w.writerow([p["email"], p["name"], p["team"], p["seat"].isoformat()])

    manifest = {
        "description": "Scoreboard demo data: 40 engineers in 4 teams over 16 complete weeks plus the current partial week. Generated by scripts/gen_demo.py; invented people at example.com.",
        "as_of": AS_OF.isoformat(),
        "first_day": FIRST_MONDAY.isoformat(),
        "last_day": LAST_DAY.isoformat(),
        "generated_by": "scripts/gen_demo.py",
        "seed": SEED,
        "files": [
            {"path": "claude_code_usage.csv", "kind": "usage", "rows": len(rows)},
            {"path": "roster.csv", "kind": "roster", "rows": len(people)},
        ],
    }
    return {
        "claude_code_usage.csv": usage.getvalue(),
        "roster.csv": roster.getvalue(),
        "manifest.json": json.dumps(manifest, indent=2) + "\n",
    }


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(root, "public", "demo"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, text in generate().items():
        with open(os.path.join(args.out, name), "w", encoding="utf-8", newline="") as f:
            f.write(text)
        print(f"wrote {os.path.join(args.out, name)} ({len(text.encode())} bytes)")


if __name__ == "__main__":
    main()
