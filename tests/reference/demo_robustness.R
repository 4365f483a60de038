# Reference values for the robustness tables of the demo mart (tests/test_robustness_analysis.py).
# Input 1: a CSV with endpoint, exposure, patient, centre, time, event, exposed (ever, 0/1), onset
# (days from the endpoint's origin; NA = never) and onset_known (0: exposed at an unknown day,
# left out of the landmark and time-dependent models), one row per patient and exposure.
# Input 2: a CSV with comparison, group (g0, g1, ... in display order; g0 the reference),
# months, status (0 censored, 1 relapse, 2 death without relapse) of the patients in CR.
# Then the ticks (months), the landmark days, and the output JSON.
# R calls (survival 3.x, cmprsk 2.2; every coxph with control = coxph.control(eps = 1e-14,
# iter.max = 1000, toler.chol = 1e-15), converged as tightly as the Python fits):
#   naive:          coxph(Surv(time, event) ~ exposed, ties = "efron", control = ctl)
#   landmark L:     lm <- subset(d, time > L); lm$x <- !is.na(lm$onset) & lm$onset <= L
#                   coxph(Surv(time - L, event) ~ x), survdiff(...) on lm
#   time-dependent: onset on the last day moved half a day earlier, then
#                   tmerge(d, d, id = patient, death = event(time, event)),
#                   tmerge(cp, d, id = patient, x = tdc(onset)),
#                   coxph(Surv(tstart, tstop, death) ~ x, ties = "efron", control = ctl)
#   sensitivity:    the naive and time-dependent fits with + strata(centre), and on the
#                   patients of all centres but one
#   competing risks: timepoints(cuminc(months, status, group, cencode = 0), ticks),
#                   cuminc(...)$Tests, crr(months, status, dummies, failcode, cencode = 0)
suppressPackageStartupMessages({library(survival); library(cmprsk); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
patients <- read.csv(args[1], stringsAsFactors = FALSE)
cr <- read.csv(args[2], stringsAsFactors = FALSE)
ticks <- as.numeric(strsplit(args[3], ",")[[1]])
landmarks <- as.numeric(strsplit(args[4], ",")[[1]])
out <- list(cox = list(), cif = list(), gray = list(), crr = list())
ctl <- coxph.control(eps = 1e-14, iter.max = 1000, toler.chol = 1e-15)
coef_row <- function(fit) {
  s <- summary(fit)
  list(hr = unname(s$conf.int[1, 1]), lower = unname(s$conf.int[1, 3]),
       upper = unname(s$conf.int[1, 4]), p = unname(s$coefficients[1, 5]), n = fit$n,
       events = fit$nevent)
}
for (key in unique(paste(patients$endpoint, patients$exposure, sep = "|"))) {
  d <- patients[paste(patients$endpoint, patients$exposure, sep = "|") == key, ]
  out$cox[[paste(key, "naive", sep = "|")]] <- coef_row(
    coxph(Surv(time, event) ~ exposed, data = d, ties = "efron", control = ctl))
  d <- d[d$onset_known == 1, ]
  if (d$endpoint[1] == "OS") {
    for (L in landmarks) {
      lm <- subset(d, time > L)
      lm$x <- as.integer(!is.na(lm$onset) & lm$onset <= L)
      row <- coef_row(coxph(Surv(time - L, event) ~ x, data = lm, ties = "efron", control = ctl))
      test <- survdiff(Surv(time - L, event) ~ x, data = lm)
      row$logrank_p <- pchisq(test$chisq, 1, lower.tail = FALSE)
      out$cox[[paste(key, "landmark", L, sep = "|")]] <- row
    }
  }
  d$onset <- ifelse(!is.na(d$onset) & d$onset == d$time, d$onset - 0.5, d$onset)
  base <- d[, c("patient", "time", "event", "onset")]
  cp <- tmerge(base[, c("patient", "time", "event")], base, id = patient,
               death = event(time, event))
  cp <- tmerge(cp, base, id = patient, x = tdc(onset))
  cp$x[is.na(cp$x)] <- 0
  out$cox[[paste(key, "time_dependent", sep = "|")]] <- coef_row(
    coxph(Surv(tstart, tstop, death) ~ x, data = cp, ties = "efron", control = ctl))
  if (d$endpoint[1] %in% c("OS", "LFS")) {
    # sensitivity: Cox stratified by centre, and without each centre in turn
    cp$centre <- d$centre[match(cp$patient, d$patient)]
    all <- patients[paste(patients$endpoint, patients$exposure, sep = "|") == key, ]
    out$cox[[paste("stratified_by_centre", key, "naive", sep = "|")]] <- coef_row(coxph(
      Surv(time, event) ~ exposed + strata(centre), data = all, ties = "efron", control = ctl))
    out$cox[[paste("stratified_by_centre", key, "time_dependent", sep = "|")]] <- coef_row(
      coxph(Surv(tstart, tstop, death) ~ x + strata(centre), data = cp, ties = "efron",
            control = ctl))
    for (centre in unique(all$centre)) {
      out$cox[[paste("leave_one_centre_out", centre, key, "naive", sep = "|")]] <- coef_row(
        coxph(Surv(time, event) ~ exposed, data = all[all$centre != centre, ], ties = "efron",
              control = ctl))
      out$cox[[paste("leave_one_centre_out", centre, key, "time_dependent", sep = "|")]] <-
        coef_row(coxph(Surv(tstart, tstop, death) ~ x, data = cp[cp$centre != centre, ],
                       ties = "efron", control = ctl))
    }
  }
}
for (comparison in unique(cr$comparison)) {
  d <- cr[cr$comparison == comparison, ]
  fit <- cuminc(d$months, d$status, d$group, cencode = 0)
  tp <- timepoints(fit, ticks)
  for (name in rownames(tp$est)) {
    out$cif[[paste(comparison, name, sep = "|")]] <- unname(tp$est[name, ])
  }
  if (length(unique(d$group)) >= 2) {
    tests <- fit$Tests
    for (cause in rownames(tests)) {
      out$gray[[paste(comparison, cause, sep = "|")]] <- list(
        stat = unname(tests[cause, "stat"]), p = unname(tests[cause, "pv"]))
    }
    levels <- sort(unique(d$group))
    x <- sapply(levels[-1], function(g) as.numeric(d$group == g))
    x <- matrix(x, nrow = nrow(d))
    for (cause in c(1, 2)) {
      fg <- tryCatch(crr(d$months, d$status, x, failcode = cause, cencode = 0),
                     error = function(e) NULL, warning = function(w) NULL)
      if (!is.null(fg) && fg$converged) {
        se <- sqrt(diag(fg$var))
        out$crr[[paste(comparison, cause, sep = "|")]] <- list(
          hr = unname(exp(fg$coef)), lower = unname(exp(fg$coef - qnorm(0.975) * se)),
          upper = unname(exp(fg$coef + qnorm(0.975) * se)),
          p = unname(2 * (1 - pnorm(abs(fg$coef / se)))))
      }
    }
  }
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null"), args[5])
