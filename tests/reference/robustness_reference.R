#!/usr/bin/env Rscript
# Reference values for tests/test_competing_risks.py and tests/test_time_dependent.py,
# computed with R (survival 3.x, cmprsk 2.2, jsonlite) from committed CSVs:
#   mgus2_cr.csv, jasa.csv       R's own data sets (export_robustness_data.R)
#   cr_demo.csv, cr_edge.csv     synthetic demo-like cohort and edge cases
#                                (export_robustness_data.py)
#
#   Rscript tests/reference/robustness_reference.R [output.json]
#
# Default output: robustness_reference.json next to this script.  The tests only
# read the JSON; one test regenerates it into a temp dir and compares.
#
# R calls used (every one, quoted as called):
#   cuminc(ftime, fstatus, group, cencode = 0)              # CIF estimates, variances, $Tests
#   cuminc(ftime, fstatus, group, strata, cencode = 0)      # stratified Gray's test
#   timepoints(cuminc(...), times)                          # CIF and variance at fixed times
#   crr(ftime, fstatus, cov1, failcode = f, cencode = 0)    # Fine-Gray, R's defaults
#   crr(..., gtol = 1e-12, maxiter = 100)                   # Fine-Gray, converged tightly
#   sqrt(diag(fit$var)); 2 * (1 - pnorm(abs(coef / se)))    # crr SEs and p (summary.crr)
#   cp <- tmerge(base, d, id = id, death = event(time, event))
#   tmerge(cp, d, id = id, exposed = tdc(onset))
#   coxph(Surv(tstart, tstop, death) ~ ..., data = cp, ties = "efron",
#         control = coxph.control(eps = 1e-14, iter.max = 1000, toler.chol = 1e-15))
#   survfit(Surv(time, status) ~ 1, conf.type = "log-log"); survdiff(...)  # landmark
#   coxph(Surv(time, status) ~ exposed, ties = "efron", control = ...)    # landmark
suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
targs <- commandArgs(trailingOnly = TRUE)
out <- if (length(targs) >= 1) targs[1] else file.path(here, "robustness_reference.json")

rd <- function(name) read.csv(file.path(here, name), stringsAsFactors = FALSE, na.strings = c("NA", ""))
mgus <- rd("mgus2_cr.csv")
jasa <- rd("jasa.csv")
demo <- rd("cr_demo.csv")
edge <- rd("cr_edge.csv")

# ------------------------------------------------------------- cumulative incidence
# cuminc's elements are cause-major ("<group> <cause>"), each a plotting path
# 0, t1, t1, t2, t2, ..., t_max; the points just after each jump are 3, 5, 7, ...
cif_ref <- function(time, status, group = NULL, strata = NULL, times = NULL) {
  fit <- if (is.null(group)) cuminc(time, status, cencode = 0)
         else if (is.null(strata)) cuminc(time, status, group, cencode = 0)
         else cuminc(time, status, group, strata, cencode = 0)
  groups <- if (is.null(group)) "1" else levels(factor(group))
  causes <- sort(unique(status[status != 0]))
  tp <- if (is.null(times)) NULL else timepoints(fit, times)
  curves <- list()
  l <- 0
  for (cause in causes) for (g in groups) {
    l <- l + 1
    e <- fit[[l]]
    jump <- if (length(e$time) > 2) seq(3, length(e$time) - 1, by = 2) else integer(0)
    curves[[l]] <- list(group = g, cause = cause, time = e$time[jump],
                        estimate = e$est[jump], variance = e$var[jump])
    if (!is.null(tp)) curves[[l]]$at <- list(time = sort(unique(times)),
                                              estimate = unname(tp$est[l, ]),
                                              variance = unname(tp$var[l, ]))
  }
  res <- list(curves = curves)
  if (!is.null(fit$Tests)) {
    tt <- fit$Tests
    res$tests <- lapply(seq_len(nrow(tt)), function(i)
      list(cause = as.numeric(rownames(tt)[i]), stat = tt[i, "stat"], p = tt[i, "pv"], df = tt[i, "df"]))
  }
  res
}

cif <- list(
  mgus2_by_sex = with(mgus, cif_ref(time, status, male, times = c(12, 60, 120, 300, 500))),
  mgus2_single = with(mgus, cif_ref(time, status)),
  mgus2_by_sex_strata_age70 = with(mgus, cif_ref(time, status, male, age >= 70)),
  demo_by_group = with(demo, cif_ref(time, status, group, times = c(90, 180, 365, 730, 1000))),
  edge_by_group = with(edge, cif_ref(time, status, group, times = c(-1, 0, 4, 5, 9, 12, 13, 14))),
  edge_a_b = with(subset(edge, group %in% c("a", "b")), cif_ref(time, status, group))
)

# ------------------------------------------------------------------- Fine-Gray
crr_ref <- function(time, status, cov1, failcode, ...) {
  fit <- crr(time, status, cov1, failcode = failcode, cencode = 0, ...)
  b <- unname(fit$coef)
  se <- sqrt(diag(fit$var))
  z <- qnorm(0.975)
  list(terms = colnames(cov1), coef = b, se = se, hr = exp(b), hr_lower = exp(b - z * se),
       hr_upper = exp(b + z * se), p = 2 * (1 - pnorm(abs(b / se))),
       loglik = fit$loglik, loglik_null = fit$loglik.null, converged = fit$converged,
       n = fit$n)
}
mgus_cov <- as.matrix(mgus[, c("age", "male")])
demo_cov <- as.matrix(demo[, c("tox_any", "tox_severe", "age")])
fine_gray <- list(
  mgus2_pcm = crr_ref(mgus$time, mgus$status, mgus_cov, 1),
  mgus2_death = crr_ref(mgus$time, mgus$status, mgus_cov, 2),
  mgus2_pcm_tight = crr_ref(mgus$time, mgus$status, mgus_cov, 1, gtol = 1e-12, maxiter = 100),
  demo_relapse = crr_ref(demo$time, demo$status, demo_cov, 1),
  demo_nrm_tight = crr_ref(demo$time, demo$status, demo_cov, 2, gtol = 1e-12, maxiter = 100),
  demo_relapse_severe = crr_ref(demo$time, demo$status, demo_cov[, "tox_severe", drop = FALSE], 1)
)

# ---------------------------------------------------- time-dependent Cox (tmerge)
ctl <- coxph.control(eps = 1e-14, iter.max = 1000, toler.chol = 1e-15)
# an onset on the day of the event or censoring is moved half a day earlier
# (the survival "timedep" vignette's rule for jasa), so that it counts as exposed
# without a zero-length interval
counting_process <- function(d, covariates) {
  onset <- ifelse(!is.na(d$onset) & d$onset == d$time, d$onset - 0.5, d$onset)
  # (tmerge fails on a one-column data1, hence age is always carried)
  base <- d[, unique(c("id", "age", covariates)), drop = FALSE]
  td <- data.frame(id = d$id, time = d$time, event = d$event, onset = onset)
  cp <- tmerge(base, td, id = id, death = event(time, event))
  tmerge(cp, td, id = id, exposed = tdc(onset))
}
cox_ref <- function(fit) {
  sm <- summary(fit)
  list(terms = names(coef(fit)), coef = unname(coef(fit)),
       se = unname(sm$coefficients[, "se(coef)"]), hr = unname(sm$conf.int[, "exp(coef)"]),
       hr_lower = unname(sm$conf.int[, "lower .95"]), hr_upper = unname(sm$conf.int[, "upper .95"]),
       p = unname(sm$coefficients[, "Pr(>|z|)"]), n = fit$n, events = fit$nevent,
       loglik = fit$loglik[2])
}
td_ref <- function(d, covariates) {
  cp <- counting_process(d, covariates)
  f <- as.formula(paste("Surv(tstart, tstop, death) ~", paste(c("exposed", covariates), collapse = " + ")))
  fit <- coxph(f, data = cp, ties = "efron", control = ctl)
  list(intervals = list(id = cp$id, tstart = cp$tstart, tstop = cp$tstop, death = cp$death,
                        exposed = cp$exposed),
       cox = cox_ref(fit))
}
demo_td <- data.frame(id = demo$id, time = demo$time, event = as.integer(demo$status > 0),
                      onset = demo$crs_onset, age = demo$age)
time_dependent <- list(
  jasa = td_ref(jasa, character(0)),
  jasa_adjusted = td_ref(jasa, c("age", "surgery")),
  demo_efs = td_ref(demo_td, "age")
)

# ------------------------------------------------------------------- landmark
landmark_ref <- function(d, L) {
  lm <- subset(d, time > L)
  lm$exposed <- as.integer(!is.na(lm$onset) & lm$onset <= L)
  lm$time <- lm$time - L
  km <- function(s) {
    fit <- survfit(Surv(time, event) ~ 1, data = s, conf.type = "log-log")
    list(time = fit$time, survival = fit$surv, ci_lower = fit$lower, ci_upper = fit$upper)
  }
  sd <- survdiff(Surv(time, event) ~ exposed, data = lm)
  list(id = lm$id, time = lm$time, event = lm$event, exposed = lm$exposed,
       km_exposed = km(subset(lm, exposed == 1)), km_unexposed = km(subset(lm, exposed == 0)),
       logrank = list(chisq = sd$chisq, p = pchisq(sd$chisq, 1, lower.tail = FALSE)),
       cox = cox_ref(coxph(Surv(time, event) ~ exposed, data = lm, ties = "efron", control = ctl)))
}
landmark <- list(
  demo_efs_day30 = landmark_ref(demo_td, 30),
  demo_efs_day14 = landmark_ref(demo_td, 14),
  jasa_day30 = landmark_ref(jasa, 30)
)

ref <- list(
  generated_with = list(R = R.version.string,
                        survival = as.character(packageVersion("survival")),
                        cmprsk = as.character(packageVersion("cmprsk")),
                        jsonlite = as.character(packageVersion("jsonlite"))),
  cumulative_incidence = cif, fine_gray = fine_gray,
  time_dependent = time_dependent, landmark = landmark
)
write_json(ref, out, auto_unbox = TRUE, digits = I(17), pretty = TRUE, na = "null")
