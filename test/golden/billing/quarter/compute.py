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


def gap_of(name):
    return [e for e in spec["events"] if e["type"] == "gap" and e["meter"] == name]


def register_at_midnight(name, t):
    """Fraction, milli-units: the true register, or on a gap the straight line across it."""
    for g in gap_of(name):
        a, b = local(g["after"]), local(g["before"])
        if a < t < b:
            ra, rb = true_register(name, a), true_register(name, b)
            return Fraction(ra) + Fraction(rb - ra) * Fraction(int((t - a).total_seconds()), int((b - a).total_seconds()))
    return Fraction(true_register(name, t))


def half_up(x):
    """A Fraction of milli-units to a whole milli-unit, half up."""
    return int((Decimal(x.numerator) / Decimal(x.denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def estimated_in_day(name, day_start, day_end):
    """Milli-units of the day that lie inside a gap (estimated)."""
    out = Fraction(0)
    for g in gap_of(name):
        a, b = local(g["after"]), local(g["before"])
        lo, hi = max(a, day_start), min(b, day_end)
        if lo < hi:
            out += register_at_midnight(name, hi) - register_at_midnight(name, lo)
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


def bill_line(account, meter, utility, label):
    start, end = month_bounds(label)
    vs = versions(utility, account["customerType"])
    micro = {}  # component → micro-fen (exact)
    order = []
    used = 0  # milli-units of the month so far, for tiers
    total = 0
    estimated = Fraction(0)
    day = start
    while day < end:
        nxt = day + timedelta(days=1)
        q = half_up(register_at_midnight(meter, nxt) - register_at_midnight(meter, day))
        estimated += estimated_in_day(meter, day, nxt)
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
        total += q
        day = nxt
    components = [
        {"name": n, "amountFen": int((Decimal(micro[n]) / 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))}
        for n in order
    ]
    opening = wrapped(meter, true_register(meter, start))
    closing = wrapped(meter, true_register(meter, end))
    est = half_up(estimated)
    # What an auditor should see named on the line: the events of the month, by the README's rule names.
    notes = set()
    mod = spec["meters"][meter].get("modulus")
    if mod and true_register(meter, start) // mod != true_register(meter, end) // mod:
        notes.add("rollover")
    for e in spec["events"]:
        if e["meter"] != meter:
            continue
        t = local(e.get("at") or e["after"])
        if start <= t < end:
            notes.add(e["type"])
    return {
        "account": account["id"],
        "meter": meter,
        "utility": utility,
        "opening": str(Decimal(opening) / 1000),
        "closing": str(Decimal(closing) / 1000),
        "quantityMilli": total,
        "estimatedMilli": est,
        "components": components,
        "totalFen": sum(c["amountFen"] for c in components),
        "named": sorted(notes),
    }


def main():
    # The recipe must not give VEE a flat line (6 equal 15-min steps) or a gap midpoint off the 0.001 grid.
    for name, m in spec["meters"].items():
        w = spec["shapes"][m["shape"]]
        assert all(a != b for a, b in zip(w, w[1:])), f"{name}: adjacent hourly weights must differ"
    for g in [e for e in spec["events"] if e["type"] == "gap"]:
        d = true_register(g["meter"], local(g["before"])) - true_register(g["meter"], local(g["after"]))
        assert d % 2 == 0, f"gap on {g['meter']}: {d} milli across it is odd, its midpoint is off the 0.001 grid"
    months = []
    for label in spec["months"]:
        lines = [bill_line(a, m["meter"], m["utility"], label) for a in spec["accounts"] for m in a["meters"]]
        months.append({"period": label, "lines": lines, "totalFen": sum(l["totalFen"] for l in lines)})
    out = {"computedBy": "compute.py (by hand from the rules, not the product)", "months": months}
    (HERE / "expected.json").write_text(json.dumps(out, indent=2) + "\n")
    for m in months:
        print(m["period"], m["totalFen"], "fen")


main()
