# Reference values for the response, biomarker and Cox tables of the demo mart
# (tests/test_analysis.py). Input: a JSON file (contingency tables, samples) and one CSV per
# endpoint with the Cox model frame. Output: JSON.
# R calls:
#   chisq.test(m, correct = FALSE)$p.value            (when every expected count >= 5)
#   fisher.test(m, workspace = 2e8)$p.value           (otherwise; exact also for r x c)
#   wilcox.test(x, y, exact = FALSE, correct = TRUE)  (2 groups)
#   kruskal.test(samples)                              (3+ groups)
#   coxph(Surv(months, event) ~ bm_blasts_ge_20 + received_steroids + received_tocilizumab
#         + relevel(factor(toxicity_group), "none"), ties = "efron",
#         control = coxph.control(eps = 1e-14, iter.max = 1000, toler.chol = 1e-15))
#   Wald test of the group: t(b) %*% solve(V) %*% b, pchisq(w, 2, lower.tail = FALSE)
suppressPackageStartupMessages({library(survival); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
input <- fromJSON(args[1], simplifyVector = FALSE)
out <- list(tables = list(), groups = list(), cox = list())
for (item in input$tables) {
  m <- do.call(rbind, lapply(item$matrix, unlist))
  expected <- outer(rowSums(m), colSums(m)) / sum(m)
  if (all(expected >= 5)) {
    out$tables[[item$key]] <- list(test = "chi-squared", p = chisq.test(m, correct = FALSE)$p.value)
  } else {
    out$tables[[item$key]] <- list(test = "fisher", p = fisher.test(m, workspace = 2e8)$p.value)
  }
}
for (item in input$groups) {
  samples <- lapply(item$samples, unlist)
  if (length(samples) == 2) {
    test <- wilcox.test(samples[[1]], samples[[2]], exact = FALSE, correct = TRUE)
  } else {
    test <- kruskal.test(samples)
  }
  out$groups[[item$key]] <- list(statistic = unname(test$statistic), p = test$p.value)
}
for (endpoint in c("OS", "LFS")) {
  data <- read.csv(args[1 + match(endpoint, c("OS", "LFS"))], stringsAsFactors = FALSE)
  data$toxicity_group <- relevel(factor(data$toxicity_group), "none")
  fit <- coxph(Surv(months, event) ~ bm_blasts_ge_20 + received_steroids + received_tocilizumab
               + toxicity_group, data = data, ties = "efron",
               control = coxph.control(eps = 1e-14, iter.max = 1000, toler.chol = 1e-15))
  s <- summary(fit)
  idx <- grep("toxicity_group", names(coef(fit)))
  b <- coef(fit)[idx]
  V <- vcov(fit)[idx, idx]
  wald <- as.numeric(t(b) %*% solve(V) %*% b)
  out$cox[[endpoint]] <- list(
    terms = names(coef(fit)), hr = unname(s$conf.int[, 1]), lower = unname(s$conf.int[, 3]),
    upper = unname(s$conf.int[, 4]), p = unname(s$coefficients[, 5]), n = fit$n, events = fit$nevent,
    wald = wald, wald_p = pchisq(wald, length(idx), lower.tail = FALSE))
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), args[4])
