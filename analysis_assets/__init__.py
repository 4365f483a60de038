"""The study's statistics and outputs as plain functions (no Dagster imports): estimators
pinned to R (survival, cox, categorical, rank_tests), the analysis plan as data (study), the
tables, figures and report built from the mart. The Dagster assets that call them are in
``orchestration/assets/analysis.py``; the mart they read is built by ``dbt_project/``."""
