#!/usr/bin/env Rscript
# Reference values for tests/test_statistics.py, computed with R (survival 3.x,
# jsonlite).  The data sets are CSV exports of lifelines' data sets
# (export_datasets.py) so that R and Python read exactly the same data.
#
#   Rscript tests/reference/make_reference.R [output.json]
#
# Default output: r_reference.json next to this script.  The tests only read
# the JSON; one test regenerates it into a temp dir and compares.
#
# R calls used (every one, quoted as called):
#   survfit(Surv(time, status) ~ 1, data = d, conf.type = "log-log")
#   summary(fit, times = t, extend = FALSE)        # S(t) and CI at fixed times
#   quantile(fit, probs = 0.5, conf.int = TRUE)    # median + CI, R's plateau rule
#   survfit(Surv(time, status == 0) ~ 1, conf.type = "log-log")  # reverse KM
#   survdiff(Surv(time, status) ~ group, data = d)   # log-rank
#   pchisq(chisq, df, lower.tail = FALSE)
#   coxph(Surv(time, status) ~ ..., data = d, ties = "efron",
#         control = coxph.control(eps = 1e-14, iter.max = 1000, toler.chol = 1e-15))
#   coef(fit); vcov(fit); summary(fit)$coefficients; summary(fit)$conf.int
#   t(b) %*% solve(V) %*% b     # multi-df Wald test of a categorical term
#   cox.zph(fit, transform = "km", terms = FALSE)   # survival 3.x (recorded only)
#   residuals(fit, type = "schoenfeld")             # pre-3.0 cox.zph formula, below
#   wilcox.test(x, y, exact = FALSE, correct = TRUE)
#   kruskal.test(list(...))
#   chisq.test(m, correct = FALSE)
#   fisher.test(m)  (2x2: p, conditional MLE odds ratio and conf.int)
#   fisher.test(m, workspace = 2e8)                 # r x c, exact network algorithm
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script_path <- sub("^--file=", "", args[grep("^--file=", args)])
here <- dirname(normalizePath(script_path))
targs <- commandArgs(trailingOnly = TRUE)
out <- if (length(targs) >= 1) targs[1] else file.path(here, "r_reference.json")

rd <- function(name) read.csv(file.path(here, name), stringsAsFactors = FALSE, na.strings = c("NA", ""))
waltons <- rd("waltons.csv")
rossi <- rd("rossi.csv")
larynx <- rd("larynx.csv")
lung <- rd("lung.csv")
plateau <- rd("plateau.csv")

# ---------------------------------------------------------------- Kaplan-Meier
km_ref <- function(time, status, times) {
  fit <- survfit(Surv(time, status) ~ 1, conf.type = "log-log")
  q <- quantile(fit, probs = 0.5, conf.int = TRUE)
  s <- summary(fit, times = times, extend = FALSE)
  list(
    table = list(time = fit$time, n_risk = fit$n.risk, n_event = fit$n.event,
                 n_censor = fit$n.censor, survival = fit$surv,
                 ci_lower = fit$lower, ci_upper = fit$upper),
    median = list(median = unname(q$quantile), lower = unname(q$lower),
                  upper = unname(q$upper)),
    at = list(time = s$time, survival = s$surv, ci_lower = s$lower, ci_upper = s$upper)
  )
}

km <- list(
  waltons_control = with(subset(waltons, group == "control"), km_ref(T, E, c(12, 24, 36))),
  waltons_mir137 = with(subset(waltons, group == "miR-137"), km_ref(T, E, c(12, 24, 36))),
  lung = with(lung, km_ref(time, status, c(180, 365, 730, 1200))),
  larynx = with(larynx, km_ref(time, death, c(1, 2, 5))),
  plateau = with(plateau, km_ref(time, status, c(3, 6, 12, 36)))
)

# reverse KM (median follow-up): censoring is the event, death censors
rev_ref <- function(time, status) {
  fit <- survfit(Surv(time, status == 0) ~ 1, conf.type = "log-log")
  q <- quantile(fit, probs = 0.5, conf.int = TRUE)
  list(median = unname(q$quantile), lower = unname(q$lower), upper = unname(q$upper))
}
reverse_km <- list(
  lung = with(lung, rev_ref(time, status)),
  rossi = with(rossi, rev_ref(week, arrest)),
  larynx = with(larynx, rev_ref(time, death))
)

# -------------------------------------------------------------------- log-rank
lr_ref <- function(formula, data) {
  sd <- survdiff(formula, data = data)
  df <- sum(sd$n > 0) - 1
  list(chisq = sd$chisq, df = df, p = pchisq(sd$chisq, df, lower.tail = FALSE))
}
logrank <- list(
  waltons = lr_ref(Surv(T, E) ~ group, waltons),
  larynx_stage = lr_ref(Surv(time, death) ~ stage, larynx),
  lung_ecog_grp = lr_ref(Surv(time, status) ~ ecog_grp, lung[!is.na(lung$ecog_grp), ]),
  rossi_prio_gt2 = lr_ref(Surv(week, arrest) ~ I(prio > 2), rossi)
)

# ------------------------------------------------------------------------ Cox
ctl <- coxph.control(eps = 1e-14, iter.max = 1000, toler.chol = 1e-15)
cox_ref <- function(fit, wald_terms = list()) {
  sm <- summary(fit)
  res <- list(
    terms = names(coef(fit)),
    coef = unname(coef(fit)),
    se = unname(sm$coefficients[, "se(coef)"]),
    hr = unname(sm$conf.int[, "exp(coef)"]),
    hr_lower = unname(sm$conf.int[, "lower .95"]),
    hr_upper = unname(sm$conf.int[, "upper .95"]),
    p = unname(sm$coefficients[, "Pr(>|z|)"]),
    n = fit$n, events = fit$nevent, loglik = fit$loglik[2]
  )
  wald <- list()
  for (nm in names(wald_terms)) {
    idx <- grep(wald_terms[[nm]], names(coef(fit)), fixed = TRUE)
    b <- coef(fit)[idx]
    V <- vcov(fit)[idx, idx]
    w <- as.numeric(t(b) %*% solve(V) %*% b)
    wald[[nm]] <- list(stat = w, df = length(idx),
                       p = pchisq(w, length(idx), lower.tail = FALSE))
  }
  res$wald <- wald
  res
}

# pre-3.0 cox.zph (survival 2.44 source, transform = "km"), which is what
# lifelines' proportional_hazard_test approximates; survival 3.x no longer has it.
old_zph <- function(fit) {
  sresid <- residuals(fit, type = "schoenfeld")
  if (is.null(dim(sresid))) sresid <- matrix(sresid, ncol = 1)
  ndead <- nrow(sresid)
  times <- as.numeric(rownames(sresid))
  if (length(times) == 0) times <- fit$y[fit$y[, 2] == 1, 1][order(fit$y[fit$y[, 2] == 1, 1])]
  temp <- survfit(Surv(fit$y[, 1], fit$y[, 2]) ~ 1, se.fit = FALSE)
  t1 <- temp$surv[temp$n.event > 0]
  t2 <- temp$n.event[temp$n.event > 0]
  km <- rep(c(1, t1), c(t2, 0))          # left-continuous KM at each death
  ttimes <- 1 - km
  xx <- ttimes - mean(ttimes)
  r2 <- sresid %*% fit$var * ndead
  test <- xx %*% r2
  z <- c(test^2 / (diag(fit$var) * ndead * sum(xx^2)))
  gtest <- c(xx %*% sresid)
  gz <- c(gtest %*% fit$var %*% gtest) * ndead / sum(xx^2)
  list(chisq = z, p = pchisq(z, 1, lower.tail = FALSE),
       global_chisq = gz, global_df = ncol(sresid),
       global_p = pchisq(gz, ncol(sresid), lower.tail = FALSE))
}
new_zph <- function(fit) {
  z <- cox.zph(fit, transform = "km", terms = FALSE)
  tab <- z$table
  k <- nrow(tab)
  list(terms = rownames(tab)[-k], chisq = unname(tab[-k, "chisq"]),
       p = unname(tab[-k, "p"]), global_chisq = unname(tab[k, "chisq"]),
       global_df = unname(tab[k, "df"]), global_p = unname(tab[k, "p"]))
}

larynx$stage <- factor(larynx$stage, levels = c("I", "II", "III", "IV"))
fit_larynx <- coxph(Surv(time, death) ~ age + stage, data = larynx, ties = "efron", control = ctl)
fit_rossi <- coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio,
                   data = rossi, ties = "efron", control = ctl)
lungcc <- lung[!is.na(lung$ecog_grp), ]
lungcc$ecog_grp <- factor(lungcc$ecog_grp, levels = c("0", "1", "2+"))
fit_lung <- coxph(Surv(time, status) ~ age + sex + ecog_grp, data = lungcc, ties = "efron", control = ctl)

cox <- list(
  larynx = c(cox_ref(fit_larynx, list(stage = "stage")),
             list(zph_old = old_zph(fit_larynx), zph_new = new_zph(fit_larynx))),
  rossi = c(cox_ref(fit_rossi),
            list(zph_old = old_zph(fit_rossi), zph_new = new_zph(fit_rossi))),
  lung = c(cox_ref(fit_lung, list(ecog_grp = "ecog_grp")),
           list(zph_old = old_zph(fit_lung), zph_new = new_zph(fit_lung)))
)

# ------------------------------------------------------------ group compares
mwu_x <- c(1, 2, 2, 3, 3, 3, 5, 8, 8)
mwu_y <- c(2, 3, 4, 4, 6, 7, 7, 8, 9, 10, 10)
w <- wilcox.test(mwu_x, mwu_y, exact = FALSE, correct = TRUE)
kw_groups <- list(a = c(1, 2, 2, 3, 3, 5), b = c(2, 3, 4, 4, 6, 7, 7), c = c(5, 6, 7, 7, 8, 9, 9, 10))
kw <- kruskal.test(kw_groups)
groups <- list(
  mwu = list(x = mwu_x, y = mwu_y, W = unname(w$statistic), p = w$p.value),
  kw = list(groups = kw_groups, stat = unname(kw$statistic), df = unname(kw$parameter), p = kw$p.value)
)

# ---------------------------------------------------------------- contingency
tables <- list(
  t2x2_tea = matrix(c(3, 1, 1, 3), 2, byrow = TRUE),
  t2x2_b = matrix(c(10, 2, 3, 15), 2, byrow = TRUE),
  t2x2_large = matrix(c(20, 15, 30, 35), 2, byrow = TRUE),
  t2x3 = matrix(c(2, 5, 8, 7, 3, 1), 2, byrow = TRUE),
  t3x3 = matrix(c(3, 1, 0, 2, 4, 3, 0, 2, 6), 3, byrow = TRUE),
  t3x3_large = matrix(c(25, 30, 20, 15, 20, 25, 10, 12, 18), 3, byrow = TRUE),
  # Agresti (2002) job satisfaction, the fisher.test help-page example
  t4x4_job = matrix(c(1, 2, 1, 0, 3, 3, 6, 1, 10, 10, 14, 9, 6, 7, 12, 11), 4, 4,
                    dimnames = NULL)
)
cont <- list()
for (nm in names(tables)) {
  m <- tables[[nm]]
  ch <- suppressWarnings(chisq.test(m, correct = FALSE))
  fi <- fisher.test(m, workspace = 2e8)
  entry <- list(table = lapply(seq_len(nrow(m)), function(i) m[i, ]),
                chisq = unname(ch$statistic), chisq_df = unname(ch$parameter),
                chisq_p = ch$p.value, min_expected = min(ch$expected),
                fisher_p = fi$p.value)
  if (all(dim(m) == 2)) {
    entry$fisher_or <- unname(fi$estimate)
    entry$fisher_or_lower <- fi$conf.int[1]
    entry$fisher_or_upper <- fi$conf.int[2]
  }
  cont[[nm]] <- entry
}

ref <- list(
  generated_with = list(R = R.version.string,
                        survival = as.character(packageVersion("survival")),
                        jsonlite = as.character(packageVersion("jsonlite"))),
  km = km, reverse_km = reverse_km, logrank = logrank, cox = cox,
  groups = groups, contingency = cont
)
write_json(ref, out, auto_unbox = TRUE, digits = I(17), pretty = TRUE, na = "null")
