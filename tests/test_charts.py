"""The side panel's SVG chart: its axis label sits clear of the tick labels, inside the picture."""
import re

from app.charts import rate_by_quintile


def _texts(svg: str):
    """(y, font size, text) of every text element: baseline y, so a line spans y - size to y."""
    return [(float(y), float(size), text) for y, size, text in
            re.findall(r'<text[^>]* y="([\d.]+)" font-size="([\d.]+)"[^>]*>([^<]*)</text>', svg)]


def test_axis_label_does_not_overlap_the_ticks():
    rows = [{"group": g, "rate": v, "lo": v * 0.9, "hi": v * 1.1} for g, v in zip(range(1, 6), (90, 70, 50, 40, 30))]
    svg = rate_by_quintile(rows, "rate", "lo", "hi", "Rate per 1,000 by IMD quintile")
    height = float(re.search(r'height="([\d.]+)"', svg).group(1))
    texts = _texts(svg)
    ticks = [t for t in texts if t[2] in {"1", "2", "3", "4", "5"}]
    axis = [t for t in texts if "most deprived" in t[2]]
    assert len(ticks) == 5 and len(axis) == 1
    axis_y, axis_size, _ = axis[0]
    for y, size, _ in ticks:
        assert axis_y - axis_size >= y + 2, "axis label overlaps the tick labels"  # 2 px of air between lines
    assert axis_y <= height  # inside the picture
    rects = re.findall(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', svg)
    bars = [float(y) + float(h) for y, h in rects]
    assert bars and all(b <= min(y - s for y, s, _ in ticks) + 0.5 for b in bars)  # ticks under the bars
