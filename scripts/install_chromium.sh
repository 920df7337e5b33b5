#!/bin/sh
# Install Debian's headless-capable Chromium for the browser tests (idempotent).
# Exit status 0 when /usr/bin/chromium is present afterwards, non-zero otherwise.
set -u
CHROMIUM=/usr/bin/chromium

# A CJK font makes the Chinese labels readable in screenshots (optional, never fatal).
ensure_cjk_font() {
    if command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null | head -n 1)" ]; then
        echo "install_chromium: a CJK font is present; nothing to do"
        return 0
    fi
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "install_chromium: no CJK font; running apt-get install -y fonts-wqy-zenhei"
        DEBIAN_FRONTEND=noninteractive apt-get install -y fonts-wqy-zenhei \
            || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y fonts-wqy-zenhei; } \
            || echo "install_chromium: could not install a CJK font (Chinese labels will show as boxes)" >&2
    else
        echo "install_chromium: no CJK font and cannot install one (Chinese labels will show as boxes)" >&2
    fi
    return 0
}
if [ -x "$CHROMIUM" ]; then
    echo "install_chromium: $CHROMIUM already present ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown')); nothing to do"
    ensure_cjk_font
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_chromium: apt-get not available; cannot install chromium" >&2
    exit 2
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install_chromium: not root and no passwordless sudo; cannot install chromium" >&2
        exit 3
    fi
fi
echo "install_chromium: $CHROMIUM missing; running apt-get update && apt-get install -y chromium"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update || { echo "install_chromium: apt-get update failed" >&2; exit 4; }
$SUDO apt-get install -y chromium || { echo "install_chromium: apt-get install chromium failed" >&2; exit 5; }
if [ -x "$CHROMIUM" ]; then
    echo "install_chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
    ensure_cjk_font
    exit 0
fi
echo "install_chromium: chromium package installed but $CHROMIUM not found" >&2
exit 6
