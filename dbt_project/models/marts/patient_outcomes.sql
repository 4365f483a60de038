{#
  One row per patient with an index infusion: baseline, toxicity, treatment, biomarkers,
  response and survival. Calendar dates do not appear here: relative days and infusion year.
#}
with

index_infusions as (
    select * from {{ ref('int_index_infusions') }}
),

patients as (
    select * from {{ ref('int_patients_deduplicated') }}
),

toxicity as (
    select * from {{ ref('int_toxicity_summarised') }}
),

treatments as (
    select * from {{ ref('int_treatments_summarised') }}
),

biomarkers as (
    select * from {{ ref('int_biomarkers_summarised') }}
),

responses as (
    select * from {{ ref('int_response_evaluated') }}
),

survival as (
    select * from {{ ref('int_survival_derived') }}
),

final as (
    select
        index_infusions.patient_key,
        index_infusions.centre_code,
        -- baseline
        cast(year(index_infusions.infusion_date) as integer) as infusion_year,
        patients.age_at_infusion,
        patients.sex,
        patients.ph_status,
        patients.prior_therapy_lines,
        patients.relapse_count,
        patients.disease_status,
        patients.prior_hsct,
        patients.bm_blasts_pct_pre,
        patients.bm_blasts_pct_pre >= 20 as bm_blasts_ge_20,
        patients.extramedullary_pre,
        patients.weight_kg,
        index_infusions.cell_dose_per_kg,
        index_infusions.costimulatory_domain,
        index_infusions.lymphodepletion,
        -- toxicity
        toxicity.observed_days_in_window,
        toxicity.sparse_observation,
        toxicity.crs_max_grade,
        toxicity.crs_onset_day,
        toxicity.crs_duration_days,
        toxicity.crs_grade_source,
        toxicity.icans_max_grade,
        toxicity.icans_onset_day,
        toxicity.icans_duration_days,
        toxicity.icans_grade_source,
        toxicity.severe_crs,
        toxicity.severe_crs_onset_day,
        toxicity.severe_icans,
        toxicity.severe_icans_onset_day,
        toxicity.concurrent_crs_icans,
        toxicity.toxicity_group,
        toxicity.toxicity_group is not null as toxicity_gradable,
        toxicity.reported_crs_grade,
        toxicity.reported_icans_grade,
        toxicity.reported_grading_system,
        -- treatment of toxicity
        treatments.received_tocilizumab,
        treatments.tocilizumab_total_mg,
        treatments.tocilizumab_first_day,
        treatments.tocilizumab_duration_days,
        treatments.received_steroids,
        treatments.steroid_dex_equiv_mg,
        treatments.steroid_first_day,
        treatments.steroid_duration_days,
        treatments.mg_per_kg_without_weight,
        -- biomarkers and kinetics
        biomarkers.peak_il6_pg_ml,
        biomarkers.peak_ferritin_ng_ml,
        biomarkers.peak_car_copies,
        biomarkers.car_peak_day,
        biomarkers.car_auc_0_28,
        biomarkers.car_last_detectable_day,
        -- response
        responses.response_basis,
        responses.response_evaluable,
        responses.cr_day30,
        responses.mrd_negative_cr,
        responses.mrd_not_measured,
        responses.cr_day,
        -- survival
        survival.os_days,
        survival.os_months,
        survival.os_event,
        survival.os_censor_reason,
        survival.lfs_days,
        survival.lfs_months,
        survival.lfs_event,
        survival.lfs_event_type,
        survival.lfs_censor_reason,
        survival.death_cause,
        survival.allo_hsct_after,
        survival.allo_hsct_day
    from index_infusions
    left join patients on index_infusions.patient_key = patients.patient_key
    left join toxicity on index_infusions.patient_key = toxicity.patient_key
    left join treatments on index_infusions.patient_key = treatments.patient_key
    left join biomarkers on index_infusions.patient_key = biomarkers.patient_key
    left join responses on index_infusions.patient_key = responses.patient_key
    left join survival on index_infusions.patient_key = survival.patient_key
)

select * from final
