#!/usr/bin/env bash
# Install the Debian packages that the test suite needs; quiet and quick when present.
set -euo pipefail

r_ready() {
    command -v Rscript > /dev/null 2>&1 &&
        Rscript -e 'ok <- all(sapply(c("survival", "cmprsk", "jsonlite"), requireNamespace, quietly = TRUE)); quit(status = if (ok) 0 else 1)' > /dev/null 2>&1
}

if r_ready; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "installing R (survival, cmprsk, jsonlite) from Debian packages"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    r-base-core r-cran-survival r-cran-cmprsk r-cran-jsonlite > /dev/null
r_ready || { echo "R packages did not install" >&2; exit 1; }
