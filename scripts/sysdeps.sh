#!/usr/bin/env bash
# Install the Debian packages that the test suite needs; quiet and quick when present:
# R (survival, cmprsk, jsonlite) for the reference statistics, chromium and its driver for
# the browser tests of the Dagster UI (Selenium drives Debian's build; nothing is downloaded).
set -euo pipefail

r_ready() {
    command -v Rscript > /dev/null 2>&1 &&
        Rscript -e 'ok <- all(sapply(c("survival", "cmprsk", "jsonlite"), requireNamespace, quietly = TRUE)); quit(status = if (ok) 0 else 1)' > /dev/null 2>&1
}

browser_ready() {
    [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]
}

if r_ready && browser_ready; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
packages=()
r_ready || packages+=(r-base-core r-cran-survival r-cran-cmprsk r-cran-jsonlite)
browser_ready || packages+=(chromium chromium-driver)
echo "installing from Debian packages: ${packages[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" > /dev/null
r_ready || { echo "R packages did not install" >&2; exit 1; }
browser_ready || { echo "chromium or chromium-driver did not install" >&2; exit 1; }
