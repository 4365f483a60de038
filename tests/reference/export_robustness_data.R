#!/usr/bin/env Rscript
# Export the R data sets of the robustness reference to CSV (run once; the CSVs
# are committed so that R and the tests read exactly the same data):
#   Rscript tests/reference/export_robustness_data.R
#
# mgus2_cr.csv: survival::mgus2, competing risks of plasma-cell malignancy
#   (status 1) and death without it (2), in months (many tied times), as in
#   the survival "compete" vignette: etime = ifelse(pstat == 0, futime, ptime).
# jasa.csv: survival::jasa (Stanford heart transplant), days from acceptance;
#   onset = day of transplant (NA = none).  As in the survival "timedep"
#   vignette, follow-up of 0 days is set to 0.5.
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))

m <- survival::mgus2
mgus <- data.frame(
  id = m$id, age = m$age, male = as.integer(m$sex == "M"),
  time = ifelse(m$pstat == 0, m$futime, m$ptime),
  status = ifelse(m$pstat == 0, 2 * m$death, 1)
)
write.csv(mgus, file.path(here, "mgus2_cr.csv"), row.names = FALSE)

j <- survival::jasa
jasa <- data.frame(
  id = seq_len(nrow(j)), time = pmax(0.5, as.numeric(j$fu.date - j$accept.dt)),
  event = j$fustat, onset = as.numeric(j$tx.date - j$accept.dt),
  age = j$age, surgery = j$surgery
)
write.csv(jasa, file.path(here, "jasa.csv"), row.names = FALSE, na = "")
