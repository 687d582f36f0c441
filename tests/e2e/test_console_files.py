"""Section 13: `txv serve` serves the analyst console at /console/ from the files embedded at
build time, with a strict Content-Security-Policy, nosniff, no framing, an ETag that answers 304,
and a year of caching for the hashed assets only. The console's behaviour is tested in a real
browser by scripts/test-console.sh."""

from __future__ import annotations

import re

from txvtest import assert_error

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def assert_console_headers(r):
    csp = r.header("content-security-policy") or ""
    for directive in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
        assert directive in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    for name, value in SECURITY_HEADERS.items():
        assert r.header(name) == value, (name, r.headers)


def test_the_page_is_served_without_a_key_and_with_a_strict_policy(server):
    for path in ("/console/", "/console"):
        r = server.request("GET", path)
        assert r.status == 200, r
        assert r.header("content-type") == "text/html; charset=utf-8"
        assert r.header("cache-control") == "no-cache"
        assert_console_headers(r)
        # The built application, not the placeholder of a build without it.
        assert "The console was not built" not in r.text
        assert re.search(r'src="/console/assets/[^"]+\.js"', r.text), r.text
        # No inline script: every <script> has a src.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text), r.text


def test_assets_are_cached_for_a_year_and_revalidated_by_etag(server):
    page = server.request("GET", "/console/")
    scripts = re.findall(r'(?:src|href)="(/console/assets/[^"]+)"', page.text)
    assert scripts, page.text
    for path in scripts:
        r = server.request("GET", path)
        assert r.status == 200, (path, r)
        assert r.header("cache-control") == "public, max-age=31536000, immutable"
        assert r.header("content-type").startswith(("text/javascript", "text/css"))
        assert_console_headers(r)
        etag = r.header("etag")
        assert etag and etag.startswith('"')
        again = server.request("GET", path, headers={"If-None-Match": etag})
        assert again.status == 304 and again.body == b"", again
    etag = page.header("etag")
    assert server.request("GET", "/console/", headers={"If-None-Match": etag}).status == 304
    assert server.request("GET", "/console/", headers={"If-None-Match": '"other"'}).status == 200


def test_unknown_files_are_404_and_paths_cannot_escape(server):
    for path in ("/console/nope.js", "/console/assets/nope.js", "/console/..%2F..%2Fetc%2Fpasswd",
                 "/console/assets/..%2F..%2Fsrc%2Fmain.cc", "/console/%2e%2e"):
        r = server.request("GET", path)
        assert_error(r, 404, "not_found")
        assert_console_headers(r)


def test_head_answers_the_headers_only(server):
    r = server.request("HEAD", "/console/")
    assert r.status == 200 and r.body == b""
    assert_console_headers(r)
