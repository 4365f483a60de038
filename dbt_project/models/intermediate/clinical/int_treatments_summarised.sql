{#
  Toxicity-management exposure per patient (clinical-rules.md, "Treatments"): administrations
  from day 0 to the end of the toxicity window whose indication is crs, icans or missing
  (not other), corticosteroids (as dexamethasone equivalents) and tocilizumab separately.
#}
with

index_infusions as (
    select patient_key, centre_code from {{ ref('int_index_infusions') }}
),

administrations as (
    select * from {{ ref('int_treatments_standardised') }}
),

exposure as (
    select
        *,
        drug_class = 'corticosteroid' as is_steroid,
        drug = 'tocilizumab' as is_tocilizumab
    from administrations
    where study_day between 0 and {{ var('toxicity_window_days') }}
        and coalesce(indication, 'missing') in ('crs', 'icans', 'missing')
),

per_patient as (
    select
        patient_key,
        count(*) filter (where is_steroid) as n_steroid_administrations,
        sum(dex_equiv_mg) filter (where is_steroid) as steroid_dex_equiv_sum,
        bool_or(dex_equiv_mg is null) filter (where is_steroid) as steroid_dose_missing,
        min(study_day) filter (where is_steroid) as steroid_first_day,
        max(study_day) filter (where is_steroid) as steroid_last_day,
        count(*) filter (where is_tocilizumab) as n_tocilizumab_administrations,
        sum(dose_mg) filter (where is_tocilizumab) as tocilizumab_dose_sum,
        bool_or(dose_mg is null) filter (where is_tocilizumab) as tocilizumab_dose_missing,
        min(study_day) filter (where is_tocilizumab) as tocilizumab_first_day,
        max(study_day) filter (where is_tocilizumab) as tocilizumab_last_day,
        bool_or(mg_per_kg_without_weight) filter (where is_steroid or is_tocilizumab)
            as mg_per_kg_without_weight
    from exposure
    group by patient_key
),

final as (
    select
        index_infusions.patient_key,
        index_infusions.centre_code,
        coalesce(per_patient.n_steroid_administrations, 0) > 0 as received_steroids,
        coalesce(per_patient.n_steroid_administrations, 0) as n_steroid_administrations,
        case
            when not per_patient.steroid_dose_missing then per_patient.steroid_dex_equiv_sum
        end as steroid_dex_equiv_mg,
        per_patient.steroid_first_day,
        per_patient.steroid_last_day - per_patient.steroid_first_day + 1 as steroid_duration_days,
        coalesce(per_patient.n_tocilizumab_administrations, 0) > 0 as received_tocilizumab,
        coalesce(per_patient.n_tocilizumab_administrations, 0) as n_tocilizumab_administrations,
        case
            when not per_patient.tocilizumab_dose_missing then per_patient.tocilizumab_dose_sum
        end as tocilizumab_total_mg,
        per_patient.tocilizumab_first_day,
        per_patient.tocilizumab_last_day - per_patient.tocilizumab_first_day + 1
            as tocilizumab_duration_days,
        coalesce(per_patient.mg_per_kg_without_weight, false) as mg_per_kg_without_weight
    from index_infusions
    left join per_patient on index_infusions.patient_key = per_patient.patient_key
)

select * from final
