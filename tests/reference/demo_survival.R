# Reference values for the survival tables of the demo mart (tests/test_analysis.py).
# Input: a CSV with endpoint, comparison, group, months, event (one row per patient and
# comparison, as analysis_assets.survival_tables sees them). Output: JSON.
# R calls:
#   survdiff(Surv(months, event) ~ group)                                 -> log-rank chi-square
#   pchisq(chisq, df, lower.tail = FALSE)                                  -> p
#   quantile(survfit(Surv(months, event) ~ 1, conf.type = "log-log"), 0.5) -> median and 95% CI
#   summary(fit, times = c(12, 24, 36), extend = FALSE)                    -> landmark survival
#   survfit(Surv(months, event == 0) ~ 1, conf.type = "log-log")           -> reverse KM follow-up
suppressPackageStartupMessages({library(survival); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1], stringsAsFactors = FALSE)
out <- list(logrank = list(), medians = list())
na_null <- function(x) if (length(x) == 0 || is.na(x)) NULL else unname(x)
for (key in unique(paste(data$endpoint, data$comparison, sep = "|"))) {
  part <- data[paste(data$endpoint, data$comparison, sep = "|") == key, ]
  if (length(unique(part$group)) >= 2 && part$comparison[1] != "overall") {
    test <- survdiff(Surv(months, event) ~ group, data = part)
    df <- length(test$n) - 1
    out$logrank[[key]] <- list(chisq = test$chisq, df = df,
                               p = pchisq(test$chisq, df, lower.tail = FALSE))
  }
  for (g in unique(part$group)) {
    members <- part[part$group == g, ]
    fit <- survfit(Surv(months, event) ~ 1, data = members, conf.type = "log-log")
    q <- quantile(fit, 0.5)
    s <- summary(fit, times = c(12, 24, 36), extend = FALSE)
    out$medians[[paste(key, g, sep = "|")]] <- list(
      median = na_null(q$quantile), lower = na_null(q$lower), upper = na_null(q$upper),
      landmark_times = s$time, landmark_surv = s$surv)
  }
}
os <- data[data$endpoint == "OS" & data$comparison == "overall", ]
reverse <- quantile(survfit(Surv(months, event == 0) ~ 1, data = os, conf.type = "log-log"), 0.5)
out$follow_up <- list(median = na_null(reverse$quantile), lower = na_null(reverse$lower),
                      upper = na_null(reverse$upper))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null"), args[2])
