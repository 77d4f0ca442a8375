"""In-page checks beyond axe-core: the keyboard walk (every control reached by Tab, each with a
visible, unclipped, unobscured focus indicator) and the reflow check (nothing cut off, pushed out
of the viewport or overlapping, WCAG 1.4.4 / 1.4.10). Each returns the problems it found, in
words; the tests assert there are none."""

from __future__ import annotations

from typing import Any

# Helpers shared by the scripts below, defined once per document.
_PRELUDE = r"""
(() => {
  if (window.__a11y) return;
  const describe = (el) => {
    if (!el || el === document.body) return "the page";
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    const cls = typeof el.className === "string" ? el.className.trim().split(/\s+/).filter(Boolean) : [];
    if (cls.length) s += "." + cls.slice(0, 3).join(".");
    const text = (el.getAttribute("aria-label") || el.textContent || el.value || "").replace(/\s+/g, " ").trim();
    if (text) s += ` "${text.slice(0, 40)}"`;
    return s;
  };
  const rgba = (css) => {
    const m = css.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const lum = (c) => {
    const ch = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * ch(c[0]) + 0.7152 * ch(c[1]) + 0.0722 * ch(c[2]);
  };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  // The colour behind an element: its ancestors' backgrounds, translucent ones painted over opaque.
  const backdrop = (el) => {
    const layers = [];
    for (let a = el; a; a = a.parentElement) {
      const c = rgba(getComputedStyle(a).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let base = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) base = over(layers[i], base);
    return base;
  };
  const hidden = (el) => !!el.closest(".visually-hidden, [hidden], [inert], details:not([open]) > :not(summary)");
  const FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]";
  const tabbable = (root) => Array.from(root.querySelectorAll(FOCUSABLE)).filter((el) => {
    if (el.disabled || el.tabIndex < 0 || hidden(el)) return false;
    if (el.closest("dialog:not([open])")) return false;
    const s = getComputedStyle(el);
    if (s.visibility !== "visible" || s.display === "none") return false;
    if (el.classList.contains("skip-link")) return true; // off-screen until focused
    return el.getClientRects().length > 0;
  });
  const stuck = () => Array.from(document.querySelectorAll("body *")).filter((el) => {
    const p = getComputedStyle(el).position;
    return (p === "sticky" || p === "fixed") && el.getClientRects().length && !hidden(el);
  });
  window.__a11y = { describe, rgba, over, ratio, backdrop, hidden, tabbable, stuck };
})();
"""

_MARK = r"""
(scope) => {
  const A = window.__a11y;
  const root = scope ? document.querySelector(scope) : document;
  document.querySelectorAll("[data-kbd]").forEach((el) => el.removeAttribute("data-kbd"));
  const els = A.tabbable(root);
  A.bars = A.stuck();  // found once per walk: a scan of every element is too slow per Tab
  const problems = [];
  els.forEach((el, i) => {
    el.setAttribute("data-kbd", String(i));
    el.__kbdShadow = getComputedStyle(el).boxShadow;  // unfocused, to tell a focus shadow apart
    if (el.tabIndex > 0) problems.push(`${A.describe(el)} has tabindex ${el.tabIndex}, which reorders the Tab sequence`);
  });
  // Nothing may work only with a pointer: whatever looks clickable is a real control or inside one.
  const native = "a[href], button, input, select, textarea, summary, label, [role=option], [tabindex]";
  for (const el of root.querySelectorAll("*")) {
    if (A.hidden(el) || el.closest(native) || el.closest("svg")) continue;
    const htmxClick = ["hx-get", "hx-post", "hx-delete", "hx-patch", "hx-put"].some((a) => el.hasAttribute(a))
      && !["FORM"].includes(el.tagName)
      && (!el.getAttribute("hx-trigger") || /(^|[\s,])click\b/.test(el.getAttribute("hx-trigger")));
    if (htmxClick || getComputedStyle(el).cursor === "pointer") {
      problems.push(`${A.describe(el)} reacts to the pointer but is not a control the keyboard reaches`);
    }
  }
  return { count: els.length, problems };
}
"""

_AT_FOCUS = r"""
() => {
  const A = window.__a11y;
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return { index: null };
  const problems = [];
  const name = A.describe(el);
  const index = el.hasAttribute("data-kbd") ? Number(el.getAttribute("data-kbd")) : -1;
  const s = getComputedStyle(el);
  // A box that scrolls takes the focus so that the arrow keys scroll it: operable too.
  const scroller = ["auto", "scroll"].includes(s.overflowY) && el.scrollHeight > el.clientHeight;
  const operable = scroller || el.matches("a[href], button, input, select, textarea, summary");
  if (!operable) problems.push(`${name} takes focus but is not a link, button or field`);
  const width = parseFloat(s.outlineWidth) || 0;
  const colour = A.rgba(s.outlineColor);
  const ring = s.outlineStyle !== "none" && width >= 2 && colour && colour[3] > 0;
  const shadowChanged = s.boxShadow !== "none" && s.boxShadow !== (el.__kbdShadow || "none");
  // Shift+Tab into a date field lands first on its calendar button, inside the browser's own
  // shadow tree: the field is active without matching :focus, and the browser rings the button.
  const pickerButton = el.matches("input[type=datetime-local], input[type=date], input[type=time]") && !el.matches(":focus");
  if (!ring && !shadowChanged && !pickerButton) {
    problems.push(`${name} shows no focus indicator (outline ${s.outlineStyle} ${s.outlineWidth})`);
  }
  const r = el.getBoundingClientRect();
  if (ring) {
    const behind = A.backdrop(el.parentElement || el);
    const contrast = A.ratio(A.over(colour, behind), behind);
    if (contrast < 3) problems.push(`${name}: its focus ring has ${contrast.toFixed(2)}:1 against what surrounds it (3:1 needed)`);
    const grow = (parseFloat(s.outlineOffset) || 0) + width;
    const outer = { left: r.left - grow, right: r.right + grow, top: r.top - grow, bottom: r.bottom + grow };
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (cs.overflowX === "visible" && cs.overflowY === "visible") continue;
      const b = a.getBoundingClientRect();
      const box = { left: b.left + a.clientLeft, top: b.top + a.clientTop };
      box.right = box.left + a.clientWidth;
      box.bottom = box.top + a.clientHeight;
      const cut = [];
      if (outer.left < box.left - 0.5) cut.push("left");
      if (outer.right > box.right + 0.5) cut.push("right");
      if (outer.top < box.top - 0.5) cut.push("top");
      if (outer.bottom > box.bottom + 0.5) cut.push("bottom");
      if (cut.length) {
        problems.push(`${name}: its focus ring is cut off (${cut.join(", ")}) by ${A.describe(a)} (overflow ${cs.overflowX}/${cs.overflowY})`);
        break;
      }
    }
  }
  // 2.4.11: no sticky or fixed bar covers the focused control (sampled at its centre and at the
  // middle of each edge, which rounded corners leave inside the control).
  const bars = A.bars.filter((bar) => !bar.contains(el) && !el.contains(bar));
  const cx = (r.left + r.right) / 2, cy = (r.top + r.bottom) / 2, inset = 2;
  const points = [[cx, cy], [cx, r.top + inset], [cx, r.bottom - inset], [r.left + inset, cy], [r.right - inset, cy]];
  for (const [x, y] of points) {
    if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
    const top = document.elementFromPoint(x, y);
    const bar = top && bars.find((b) => b.contains(top));
    if (bar) { problems.push(`${name} is (partly) hidden under ${A.describe(bar)} when focused`); break; }
  }
  if (r.bottom < 0 || r.top > innerHeight || r.right < 0 || r.left > innerWidth) {
    problems.push(`${name} is focused outside the viewport`);
  }
  return { index, name, problems };
}
"""

_REFLOW = r"""
(scope) => {
  const A = window.__a11y;
  const root = scope ? document.querySelector(scope) : document.body;
  const problems = [];
  const vw = document.documentElement.clientWidth;
  const doc = document.documentElement;
  if (doc.scrollWidth > vw + 1) problems.push(`the page scrolls sideways: ${doc.scrollWidth}px of content in a ${vw}px viewport`);
  // A data table may scroll sideways in its own box (the 1.4.10 exception); nothing else may.
  const scroller = (el) => el.closest(".table-wrap");
  const skip = (el) => A.hidden(el) || el.closest("svg, script, style, template, .skip-link, .toast");
  const inFlow = (el) => {
    const s = getComputedStyle(el);
    return !["absolute", "fixed"].includes(s.position) && !["inline", "contents", "none"].includes(s.display)
      && s.visibility === "visible" && el.getClientRects().length > 0;
  };
  const seen = new Set();
  const report = (msg) => { if (!seen.has(msg)) { seen.add(msg); problems.push(msg); } };
  for (const el of [root, ...root.querySelectorAll("*")]) {
    if (skip(el)) continue;
    const s = getComputedStyle(el);
    if (s.display === "none" || s.visibility !== "visible" || s.clip !== "auto") continue;  // clip: shown to screen readers only
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const box = scroller(el);
    if (!box && (r.right > vw + 1 || r.left < -1)) {
      report(`${A.describe(el)} reaches past the viewport (${Math.round(r.left)}..${Math.round(r.right)} of ${vw}px)`);
    }
    if (s.display !== "inline" && !el.matches("input, textarea, select")) {  // fields scroll their text
      const clipsX = ["hidden", "clip"].includes(s.overflowX), clipsY = ["hidden", "clip"].includes(s.overflowY);
      if (clipsX && el.scrollWidth > el.clientWidth + 1) report(`${A.describe(el)} cuts off its content sideways (${el.scrollWidth}px in ${el.clientWidth}px)`);
      if (clipsY && el.scrollHeight > el.clientHeight + 1) report(`${A.describe(el)} cuts off its content (${el.scrollHeight}px in ${el.clientHeight}px)`);
      if (!box && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && !el.matches(".table-wrap")) {
        if (s.overflowX === "visible") report(`content spills out of ${A.describe(el)} (${el.scrollWidth}px in ${el.clientWidth}px)`);
        else if (!clipsX) report(`${A.describe(el)} scrolls sideways (${el.scrollWidth}px in ${el.clientWidth}px)`);
      }
    }
    // Something placed on top of its neighbour (a count on an icon) leaves most of it in view.
    if (s.position === "absolute" && el.parentElement) {
      for (const sib of el.parentElement.children) {
        if (sib === el || A.hidden(sib) || !sib.getClientRects().length) continue;
        const b = sib.getBoundingClientRect();
        const w = Math.min(r.right, b.right) - Math.max(r.left, b.left);
        const h = Math.min(r.bottom, b.bottom) - Math.max(r.top, b.top);
        if (w > 0 && h > 0 && w * h > 0.5 * b.width * b.height) {
          report(`${A.describe(el)} covers ${Math.round((100 * w * h) / (b.width * b.height))}% of ${A.describe(sib)}`);
        }
      }
    }
    // In-flow neighbours never cover each other.
    const kids = Array.from(el.children).filter((k) => !skip(k) && inFlow(k));
    const rects = kids.map((k) => k.getBoundingClientRect());
    for (let i = 0; i < kids.length; i++) {
      for (let j = i + 1; j < kids.length; j++) {
        const a = rects[i], b = rects[j];
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && h > 1) report(`${A.describe(kids[i])} overlaps ${A.describe(kids[j])}`);
      }
    }
  }
  return problems;
}
"""


def _prelude(page: Any) -> None:
    page.evaluate(_PRELUDE)


def reflow_problems(page: Any, scope: str | None = None) -> list[str]:
    """What is cut off, pushed past the viewport's width or overlapping, at the page's size now."""
    _prelude(page)
    return list(page.evaluate(_REFLOW, scope))


def keyboard_problems(
    page: Any, scope: str | None = None, *, forward: bool = True, back: int = 0
) -> tuple[int, list[str]]:
    """Walk the page (or the `scope` element, e.g. the open dialog) with Tab from the current
    focus until the focus comes round again, checking each control on the way; then, from the
    last control, `back` steps with Shift+Tab (where a sticky bar could cover what is focused).
    -> (number of controls reached going forward, problems)."""
    _prelude(page)
    marked = page.evaluate(_MARK, scope)
    problems: list[str] = list(marked["problems"])
    reached: set[int] = set()
    order: list[str] = []
    first: int | None = None
    for _ in range(2 * marked["count"] + 10 if forward else 0):  # a date takes a Tab per part
        page.keyboard.press("Tab")
        info = page.evaluate(_AT_FOCUS)
        if info["index"] is None:  # left the document (past the last control): go round
            continue
        if order and info["name"] == order[-1]:  # Tab inside one field (a date's parts)
            continue
        if info["index"] == first:
            break
        if first is None:
            first = info["index"]
        if info["index"] in reached:
            problems.append(f"the Tab order comes back to {info['name']} before reaching the rest")
            break
        if info["index"] >= 0:
            reached.add(info["index"])
        order.append(info["name"])
        problems += info["problems"]
    if back:
        page.evaluate(
            "(n) => document.querySelector(`[data-kbd='${n - 1}']`).focus()", marked["count"]
        )
        for _ in range(back):
            page.keyboard.press("Shift+Tab")
            info = page.evaluate(_AT_FOCUS)
            if info["index"] is not None:
                problems += info["problems"]
    if forward:
        missing = page.evaluate(
            "(reached) => Array.from(document.querySelectorAll('[data-kbd]'))"
            ".filter((el) => !reached.includes(Number(el.dataset.kbd)))"
            ".map((el) => window.__a11y.describe(el))",
            sorted(reached),
        )
        problems += [f"{name} is never reached with Tab" for name in missing]
    return len(reached), list(dict.fromkeys(problems))
