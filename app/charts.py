"""Small server-drawn SVG charts for the side panel (no JavaScript, readable by screen readers)."""
from __future__ import annotations

import html


def rate_by_quintile(rows: list[dict], value: str, lower: str, upper: str, title: str) -> str:
    """Bars of a rate by IMD quintile (1 = most deprived) with their confidence intervals."""
    values = [(r["group"], r.get(value), r.get(lower), r.get(upper)) for r in rows]
    values = [(g, v, lo, hi) for g, v, lo, hi in values if v == v and v is not None]
    if not values:
        return ""
    top = max(hi if hi == hi and hi is not None else v for _, v, _, hi in values) * 1.1
    # the bars stand on a baseline; under it a row of tick labels (the quintiles), and under that,
    # clear of them, the axis label
    width, height, left, bottom = 260, 170, 40, 40
    tick_y, axis_y = height - bottom + 14, height - 6
    bar = (width - left) / len(values)
    scale = (height - bottom - 10) / top if top else 0
    parts = [f'<svg role="img" aria-label="{html.escape(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg"><title>{html.escape(title)}</title>']
    for i, (group, v, lo, hi) in enumerate(values):
        x = left + i * bar + bar * 0.15
        h = v * scale
        y = height - bottom - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar * 0.7:.1f}" height="{h:.1f}" fill="#5698b9">'
                     f'<title>Quintile {group}: {v:,.0f} ({lo:,.0f} to {hi:,.0f})</title></rect>')
        if lo == lo and hi == hi and lo is not None:
            cx = x + bar * 0.35
            parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{height - bottom - hi * scale:.1f}" '
                         f'y2="{height - bottom - lo * scale:.1f}" stroke="#212b32" stroke-width="1.5"/>')
        parts.append(f'<text x="{x + bar * 0.35:.1f}" y="{tick_y}" font-size="11" text-anchor="middle">'
                     f'{group}</text>')
    parts.append(f'<line x1="{left}" x2="{width}" y1="{height - bottom}" y2="{height - bottom}" stroke="#768692"/>'
                 f'<text x="2" y="12" font-size="10">{top / 1.1:,.0f}</text>'
                 f'<text x="{left}" y="{axis_y}" font-size="11">IMD quintile: most deprived (1) &#8594; least (5)'
                 '</text></svg>')
    return "".join(parts)
