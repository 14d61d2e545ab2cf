"""Check a page as a phone reader and a screen-reader user would meet it.

``audit`` fails when anything sticks out sideways at the current viewport (the page itself
must never scroll horizontally; a formula, a table or a code block may scroll inside its own
box) and when axe-core finds a WCAG 2.1 A or AA violation. axe-core is the npm package
installed by ``bash .ci/test`` into ``tests/e2e/node_modules``; it is served to the browser
from that folder, never from the network.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
# A path no page of the app uses; the browser context answers it from the file above.
AXE_URL_PATH = "/__tests__/axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

# Elements wider than the viewport, outside any box that scrolls or clips them, and not
# hidden from sight. Right to left, overflow goes to the left (negative x), so both sides count.
OVERFLOW_SCRIPT = """() => {
  const width = document.documentElement.clientWidth;
  const clipped = (el) => {
    for (let node = el.parentElement; node && node !== document.body; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.overflowX !== 'visible' || style.clip !== 'auto') return true;
    }
    return false;
  };
  const found = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;
    if (box.right <= width + 1 && box.left >= -1) continue;
    if (clipped(el)) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    found.push(`${el.tagName.toLowerCase()}${el.className ? '.' + el.className : ''}`
      + ` [${Math.round(box.left)}, ${Math.round(box.right)}] "${el.textContent.trim().slice(0, 40)}"`);
  }
  const page = document.documentElement.scrollWidth - width;
  return {page, elements: found.slice(0, 10)};
}"""


def require_axe() -> Path:
    if not AXE.exists():
        pytest.fail(
            f"{AXE} is missing: the browser tests need axe-core from npm. "
            "Run `bash .ci/test`, which installs it (npm ci --prefix tests/e2e)."
        )
    return AXE


def serve_axe(context: BrowserContext, base_url: str) -> None:
    """Answer the axe-core URL on the server's own origin, so the page's CSP allows it."""
    script = require_axe()
    context.route(
        base_url + AXE_URL_PATH,
        lambda route: route.fulfill(path=script, content_type="text/javascript"),
    )


def horizontal_overflow(page: Page) -> list[str]:
    """Describe what sticks out of the viewport sideways; empty when nothing does."""
    result = page.evaluate(OVERFLOW_SCRIPT)
    problems = list(result["elements"])
    if result["page"] > 1:
        problems.insert(0, f"the page scrolls {result['page']} px sideways")
    return problems


def axe_violations(page: Page) -> list[str]:
    """Run axe-core on the page; describe each WCAG 2.1 A/AA violation and where it is."""
    if page.url.startswith("file:"):
        page.add_script_tag(content=require_axe().read_text(encoding="utf-8"))
    else:
        origin = page.evaluate("location.origin")
        page.add_script_tag(url=origin + AXE_URL_PATH)
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results["violations"]
    ]


def audit(page: Page) -> None:
    """Fail when the page overflows sideways or breaks WCAG 2.1 A/AA."""
    problems = [f"overflow: {p}" for p in horizontal_overflow(page)]
    problems += [f"axe: {p}" for p in axe_violations(page)]
    assert not problems, f"{page.url}\n" + "\n".join(problems)
