#!/usr/bin/env bash
# Vendors the third-party CSS/JS that great-expectations' Data Docs load from CDNs, so that the
# docs render styled offline (hospital networks). Run by a developer when GE's templates change;
# the result (vendor/data_docs/) is committed. Needs npm (the npm registry) once.
set -euo pipefail
cd "$(dirname "$0")/.."
out=vendor/data_docs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out"

fetch() {  # package@version
    (cd "$work" && npm pack --silent "$1" > /dev/null)
}
for package in bootstrap@4.3.1 jquery@3.7.1 @fortawesome/fontawesome-free@6.6.0 \
        bootstrap-table@1.19.1 popper.js@1.12.9 vega@5 vega-lite@5 vega-embed@6 \
        bootstrap-datepicker@1.9.0 @forevolve/bootstrap-dark@1.1.0; do
    fetch "$package"
done
for archive in "$work"/*.tgz; do
    name=$(basename "$archive" .tgz)
    mkdir -p "$work/$name" && tar -xzf "$archive" -C "$work/$name"
done

copy() {  # archive-name path-in-package target-path
    mkdir -p "$(dirname "$out/$3")"
    cp "$work/$1/package/$2" "$out/$3"
}
copy bootstrap-4.3.1 dist/css/bootstrap.min.css bootstrap/bootstrap.min.css
copy bootstrap-4.3.1 dist/js/bootstrap.min.js bootstrap/bootstrap.min.js
copy bootstrap-4.3.1 LICENSE bootstrap/LICENSE
copy jquery-3.7.1 dist/jquery.min.js jquery/jquery.min.js
copy jquery-3.7.1 LICENSE.txt jquery/LICENSE.txt
copy fortawesome-fontawesome-free-6.6.0 css/all.min.css fontawesome/css/all.min.css
copy fortawesome-fontawesome-free-6.6.0 LICENSE.txt fontawesome/LICENSE.txt
mkdir -p "$out/fontawesome/webfonts"
cp "$work"/fortawesome-fontawesome-free-6.6.0/package/webfonts/*.woff2 "$out/fontawesome/webfonts/"
copy bootstrap-table-1.19.1 dist/bootstrap-table.min.css bootstrap-table/bootstrap-table.min.css
copy bootstrap-table-1.19.1 dist/bootstrap-table.min.js bootstrap-table/bootstrap-table.min.js
copy bootstrap-table-1.19.1 dist/extensions/filter-control/bootstrap-table-filter-control.min.css bootstrap-table/bootstrap-table-filter-control.min.css
copy bootstrap-table-1.19.1 dist/extensions/filter-control/bootstrap-table-filter-control.min.js bootstrap-table/bootstrap-table-filter-control.min.js
copy bootstrap-table-1.19.1 LICENSE bootstrap-table/LICENSE
copy popper.js-1.12.9 dist/umd/popper.min.js popper/popper.min.js
copy popper.js-1.12.9 package.json popper/package.json
for v in "$work"/vega-5*/; do copy "$(basename "$v")" build/vega.min.js vega/vega.min.js; copy "$(basename "$v")" package.json vega/package-vega.json; done
for v in "$work"/vega-lite-5*/; do copy "$(basename "$v")" build/vega-lite.min.js vega/vega-lite.min.js; copy "$(basename "$v")" LICENSE vega/LICENSE-vega-lite; done
for v in "$work"/vega-embed-6*/; do copy "$(basename "$v")" build/vega-embed.min.js vega/vega-embed.min.js; copy "$(basename "$v")" LICENSE vega/LICENSE-vega-embed; done
copy bootstrap-datepicker-1.9.0 dist/css/bootstrap-datepicker.min.css datepicker/bootstrap-datepicker.min.css
copy bootstrap-datepicker-1.9.0 dist/js/bootstrap-datepicker.min.js datepicker/bootstrap-datepicker.min.js
copy bootstrap-datepicker-1.9.0 LICENSE datepicker/LICENSE
copy forevolve-bootstrap-dark-1.1.0 dist/css/bootstrap-prefers-dark.css bootstrap-dark/bootstrap-prefers-dark.css
copy forevolve-bootstrap-dark-1.1.0 LICENSE bootstrap-dark/LICENSE
echo "vendored into $out: $(du -sh "$out" | cut -f1)"
