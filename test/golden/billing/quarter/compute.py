#!/usr/bin/env python3
"""
The golden quarter worked out by hand, as a spreadsheet would: from spec.json (the readings'
recipe) and tariffs.json, by the rules written in DOMAIN.md and the README, without any of the
product's code. Writes expected.json; run `python3 compute.py` after changing the spec.

Rules applied (README "Billing", "VEE"; DOMAIN "Customers and tariffs"):
- A day's use is the register at the next local midnight minus the register at this one. Where the
  register wrapped in between, the modulus is added back. A single bad reading changes nothing:
  it is left out and the day is computed from the good readings.
- A gap of up to 2 h is estimated by linear interpolation of the register between the readings on
  either side; a day split by the gap gets the share of the straight line that falls in it, and
  that share is estimated. The day's use is read to 0.001 unit, half up.
- Each component is priced per day with the tariff version in force that day (effective dates are
  local midnights); block tiers count the meter's use from the start of the local month; each
  component's exact amount over the month (quantity in 0.001 unit × price in 0.00001 yuan) is
  rounded half up to whole fen once; the total is the sum of the components.
- A meter exchange recorded by a clerk and approved by a second person splits the meter's history
  at its time: the day is the old meter's part (its register at removal minus its register at the
  day's start) plus the new one's (its register at the day's end minus its register at
  installation). Registers shown are those of the meter installed at that instant.
- What a run sees is what was known when it was made: readings that arrive later and corrections
  recorded later (a supervisor's edit of a 15-min interval, which replaces that interval's use)
  are not in it. A billed month is closed; each later run re-prices every earlier billed month of
  the meter with everything known by then (its own tariffs, tiers and rounding) and bills the
  difference from what was billed for it so far as an adjustment line, per component.
"""
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal, ROUND_HALF_UP
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).parent
spec = json.loads((HERE / "spec.json").read_text())
tariffs = json.loads((HERE / "tariffs.json").read_text())
TZ = timezone(timedelta(hours=spec["utcOffsetHours"]))
Q = timedelta(minutes=15)


def local(s):
    return datetime.fromisoformat(s).replace(tzinfo=TZ)


ORIGIN = local(spec["readingsFrom"] + "T00:00")


def day_use(m, day_index):
    d = m["daily"]
    return d["base"] + d["step"] * ((day_index * d["mult"]) % d["mod"])


def true_register(name, t):
    """The meter's true register in milli-units at a quarter-hour t, never wrapped."""
    m = spec["meters"][name]
    w = spec["shapes"][m["shape"]]
    whole = (t - ORIGIN) // timedelta(days=1)
    r = m["start"] + sum(day_use(m, k) for k in range(whole))
    q = int((t - (ORIGIN + timedelta(days=whole))) / Q)
    total_w = 4 * sum(w)
    cum_w = sum(w[k // 4] for k in range(q))
    return r + (day_use(m, whole) * cum_w) // total_w


def run_index(label):
    return spec["months"].index(label)


def known(e, run):
    """Whether an event had happened (readings arrived, record made) when month `run` was billed."""
    after = e.get("knownAfterRunOf")
    return after is None or run_index(run) > run_index(after)


def gap_of(name, run):
    """Spans without readings when `run` was made: lasting gaps, and late readings not yet arrived."""
    return [
        e
        for e in spec["events"]
        if e["meter"] == name
        and (e["type"] == "gap" or (e["type"] == "late-readings" and not known(e, run)))
    ]


def exchange_of(name):
    xs = [e for e in spec["events"] if e["type"] == "exchange" and e["meter"] == name]
    return xs[0] if xs else None


def milli_of(decimal_text):
    return int(Decimal(decimal_text) * 1000)


def shown_register(name, t):
    """The register of the meter installed at t (milli-units, unwrapped): after an exchange the new one."""
    x = exchange_of(name)
    if x and t > local(x["at"]):
        return milli_of(x["registerAfter"]) + true_register(name, t) - milli_of(x["registerBefore"])
    return true_register(name, t)


def register_at_midnight(name, t, run):
    """Fraction, milli-units: the register shown at t, or on a gap the straight line across it."""
    for g in gap_of(name, run):
        a, b = local(g["after"]), local(g["before"])
        if a < t < b:
            ra, rb = shown_register(name, a), shown_register(name, b)
            return Fraction(ra) + Fraction(rb - ra) * Fraction(int((t - a).total_seconds()), int((b - a).total_seconds()))
    return Fraction(shown_register(name, t))


def edits_in(name, day_start, day_end, run):
    """Milli-units the supervisor's edits known to `run` take off the day (interval use minus the edited value)."""
    out = 0
    for e in spec["events"]:
        if e["type"] == "edit" and e["meter"] == name and known(e, run):
            a = local(e["start"])
            if day_start <= a < day_end:
                out += (true_register(name, a + Q) - true_register(name, a)) - milli_of(e["value"])
    return out


def use_of_day(name, day, nxt, run):
    """Fraction, milli-units: the day's use, across an exchange as the old meter's part plus the new one's."""
    x = exchange_of(name)
    if x and known(x, run) and day < local(x["at"]) < nxt:
        old = milli_of(x["registerBefore"]) - register_at_midnight(name, day, run)
        new = register_at_midnight(name, nxt, run) - milli_of(x["registerAfter"])
        return old + new - edits_in(name, day, nxt, run)
    return register_at_midnight(name, nxt, run) - register_at_midnight(name, day, run) - edits_in(name, day, nxt, run)


def half_up(x):
    """A Fraction of milli-units to a whole milli-unit, half up."""
    return int((Decimal(x.numerator) / Decimal(x.denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def estimated_in_day(name, day_start, day_end, run):
    """Milli-units of the day that lie inside a gap (estimated)."""
    out = Fraction(0)
    for g in gap_of(name, run):
        a, b = local(g["after"]), local(g["before"])
        lo, hi = max(a, day_start), min(b, day_end)
        if lo < hi:
            out += register_at_midnight(name, hi, run) - register_at_midnight(name, lo, run)
    return out


def versions(utility, ctype):
    vs = [v for v in tariffs["tariffs"] if v["utility"] == utility and ctype in v["customerTypes"]]
    return sorted(vs, key=lambda v: v["effectiveFrom"])


def in_force(vs, day):
    ok = [v for v in vs if v["effectiveFrom"] <= day.strftime("%Y-%m-%d")]
    if not ok:
        raise SystemExit(f"no tariff in force on {day}")
    return ok[-1]


def millifen(price):
    return int(Decimal(price) * 100_000)


def month_bounds(label):
    y, mo = map(int, label.split("-"))
    start = datetime(y, mo, 1, tzinfo=TZ)
    end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=TZ)
    return start, end


def wrapped(name, milli):
    mod = spec["meters"][name].get("modulus")
    return milli % mod if mod else milli


def price_month(account, meter, utility, label, run):
    """The month as `run` knew it: its days' use, priced; components in micro-fen, exact."""
    start, end = month_bounds(label)
    vs = versions(utility, account["customerType"])
    micro = {}  # component → micro-fen (exact)
    order = []
    used = 0  # milli-units of the month so far, for tiers
    estimated = Fraction(0)
    day = start
    while day < end:
        nxt = day + timedelta(days=1)
        q = half_up(use_of_day(meter, day, nxt, run))
        estimated += estimated_in_day(meter, day, nxt, run)
        v = in_force(vs, day)
        for c in v["components"]:
            if c["name"] not in order:
                order.append(c["name"])
            if "price" in c:
                micro[c["name"]] = micro.get(c["name"], 0) + q * millifen(c["price"])
                continue
            lo = used
            for t in c["tiers"]:
                cap = int(Decimal(str(t["upTo"])) * 1000) if "upTo" in t else None
                hi = used + q if cap is None else min(used + q, cap)
                if hi > lo:
                    micro[c["name"]] = micro.get(c["name"], 0) + (hi - lo) * millifen(t["price"])
                    lo = hi
        used += q
        day = nxt
    components = [
        {"name": n, "amountFen": int((Decimal(micro[n]) / 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))}
        for n in order
    ]
    return {"quantityMilli": used, "estimated": estimated, "components": components}


def register_text(name, t, run):
    return str(Decimal(wrapped(name, half_up(register_at_midnight(name, t, run)))) / 1000)


def bill_line(account, meter, utility, label):
    """The month's own line, as its run (made right after the month) saw it."""
    start, end = month_bounds(label)
    priced = price_month(account, meter, utility, label, label)
    # What an auditor should see named on the line: the events of the month, by the README's rule names.
    notes = set()
    mod = spec["meters"][meter].get("modulus")
    if mod and shown_register(meter, start) // mod != shown_register(meter, end) // mod:
        notes.add("rollover")
    rule = {"gap": "gap", "late-readings": "gap", "bad-reading": "bad-reading", "exchange": "meter-replaced"}
    for e in spec["events"]:
        if e["meter"] != meter or e["type"] not in rule:
            continue
        if e["type"] == "late-readings" and known(e, label):
            continue
        t = local(e.get("at") or e["after"])
        if start <= t < end:
            notes.add(rule[e["type"]])
    return {
        "account": account["id"],
        "meter": meter,
        "utility": utility,
        "opening": register_text(meter, start, label),
        "closing": register_text(meter, end, label),
        "quantityMilli": priced["quantityMilli"],
        "estimatedMilli": half_up(priced["estimated"]),
        "components": priced["components"],
        "totalFen": sum(c["amountFen"] for c in priced["components"]),
        "named": sorted(notes),
    }


def adjustment_lines(label, billed):
    """Run `label`'s adjustments: each earlier billed month re-priced with what is known now, minus what was billed for it."""
    out = []
    for earlier in spec["months"][: run_index(label)]:
        for a in spec["accounts"]:
            for m in a["meters"]:
                key = (earlier, m["meter"])
                now = price_month(a, m["meter"], m["utility"], earlier, label)
                sofar = billed[key]
                components = [
                    {"name": c["name"], "amountFen": c["amountFen"] - sum(l["amountFen"] for l in sofar if l.get("name") == c["name"])}
                    for c in now["components"]
                ]
                quantity = now["quantityMilli"] - sum(l["quantityMilli"] for l in sofar if "quantityMilli" in l)
                if quantity == 0 and all(c["amountFen"] == 0 for c in components):
                    continue
                # The corrections that became known since the previous run, to this month: the line names them.
                became = [
                    e
                    for e in spec["events"]
                    if e["meter"] == m["meter"]
                    and known(e, label)
                    and not known(e, spec["months"][run_index(label) - 1])
                    and month_bounds(earlier)[0] <= local(e.get("start") or e.get("after") or e["at"]) < month_bounds(earlier)[1]
                ]
                out.append({
                    "account": a["id"],
                    "meter": m["meter"],
                    "utility": m["utility"],
                    "adjusts": earlier,
                    "quantityMilli": quantity,
                    "components": components,
                    "totalFen": sum(c["amountFen"] for c in components),
                    "reasonSays": sorted(e["adjustmentSays"] for e in became),
                })
    return out


def main():
    # The recipe must not give VEE a flat line (6 equal 15-min steps) or a gap midpoint off the 0.001 grid.
    for name, m in spec["meters"].items():
        w = spec["shapes"][m["shape"]]
        assert all(a != b for a, b in zip(w, w[1:])), f"{name}: adjacent hourly weights must differ"
    for g in [e for e in spec["events"] if e["type"] == "gap"]:
        d = true_register(g["meter"], local(g["before"])) - true_register(g["meter"], local(g["after"]))
        assert d % 2 == 0, f"gap on {g['meter']}: {d} milli across it is odd, its midpoint is off the 0.001 grid"
    for x in [e for e in spec["events"] if e["type"] == "exchange"]:
        t = local(x["at"])
        lo = true_register(x["meter"], t - (t - ORIGIN) % Q)
        hi = true_register(x["meter"], t - (t - ORIGIN) % Q + Q)
        assert lo <= milli_of(x["registerBefore"]) <= hi, f"exchange on {x['meter']}: the register read at removal lies outside its quarter-hour"
    months = []
    billed = {}  # (month, meter) → what was billed for it so far: the line's quantity and component amounts
    for label in spec["months"]:
        lines = [bill_line(a, m["meter"], m["utility"], label) for a in spec["accounts"] for m in a["meters"]]
        adjustments = adjustment_lines(label, billed)
        for l in lines:
            billed[(label, l["meter"])] = [{"quantityMilli": l["quantityMilli"]}] + [
                {"name": c["name"], "amountFen": c["amountFen"]} for c in l["components"]
            ]
        for j in adjustments:
            billed[(j["adjusts"], j["meter"])] += [{"quantityMilli": j["quantityMilli"]}] + [
                {"name": c["name"], "amountFen": c["amountFen"]} for c in j["components"]
            ]
        total = sum(l["totalFen"] for l in lines) + sum(j["totalFen"] for j in adjustments)
        months.append({"period": label, "lines": lines, "adjustments": adjustments, "totalFen": total})
    out = {"computedBy": "compute.py (by hand from the rules, not the product)", "months": months}
    (HERE / "expected.json").write_text(json.dumps(out, indent=2) + "\n")
    for m in months:
        print(m["period"], m["totalFen"], "fen", [(j["meter"], j["adjusts"], j["totalFen"]) for j in m["adjustments"]])


main()
