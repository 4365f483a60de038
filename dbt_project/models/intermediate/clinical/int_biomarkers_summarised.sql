{#
  Biomarkers and CAR-T kinetics per patient with an index infusion (clinical-rules.md,
  "Kinetics and biomarkers").
#}
{%- set peak_last_day = var('biomarker_window_days') -%}
{%- set auc_last_day = var('car_auc_last_day') -%}
with

index_infusions as (
    select patient_key, centre_code, infusion_date from {{ ref('int_index_infusions') }}
),

labs as (
    select * from {{ ref('int_labs_standardised') }}
),

kinetics as (
    select * from {{ ref('int_car_t_kinetics_accepted') }}
),

lab_peaks as (
    select
        patient_key,
        max(value) filter (where analyte = 'il6') as peak_il6_pg_ml,
        max(value) filter (where analyte = 'ferritin') as peak_ferritin_ng_ml
    from labs
    where study_day between 0 and {{ peak_last_day }}
    group by patient_key
),

-- peripheral-blood samples, one value per study day (the highest distinct sample of the day)
blood_days as (
    select
        kinetics.patient_key,
        kinetics.sample_date - index_infusions.infusion_date as study_day,
        kinetics.sample_date <= {{ cutoff_date() }} as on_or_before_cutoff,
        max(kinetics.copies_per_ug_gdna) as copies
    from kinetics
    inner join index_infusions on kinetics.patient_key = index_infusions.patient_key
    where kinetics.specimen = 'peripheral_blood'
        and kinetics.sample_date is not null
        and kinetics.copies_per_ug_gdna is not null
    group by all
),

peaks as (
    select
        patient_key,
        count(*) as n_blood_samples_0_30,
        max(copies) as peak_car_copies,
        arg_min(study_day, [-copies, study_day]) as car_peak_day
    from blood_days
    where study_day between 0 and {{ peak_last_day }}
    group by patient_key
),

auc_intervals as (
    select
        patient_key,
        study_day,
        copies,
        lead(study_day) over (partition by patient_key order by study_day) as next_day,
        lead(copies) over (partition by patient_key order by study_day) as next_copies
    from blood_days
    where study_day between 0 and {{ auc_last_day }}
),

auc as (
    select
        patient_key,
        count(*) as n_blood_samples_0_28,
        sum((next_day - study_day) * (copies + next_copies) / 2.0) as car_auc_0_28
    from auc_intervals
    group by patient_key
),

persistence as (
    select
        patient_key,
        max(study_day) as car_last_detectable_day
    from blood_days
    where copies > 0
        and study_day >= 0
        and on_or_before_cutoff
    group by patient_key
),

final as (
    select
        index_infusions.patient_key,
        index_infusions.centre_code,
        lab_peaks.peak_il6_pg_ml,
        lab_peaks.peak_ferritin_ng_ml,
        coalesce(peaks.n_blood_samples_0_30, 0) as n_blood_samples_0_30,
        peaks.peak_car_copies,
        peaks.car_peak_day,
        coalesce(auc.n_blood_samples_0_28, 0) as n_blood_samples_0_28,
        case when auc.n_blood_samples_0_28 >= 2 then auc.car_auc_0_28 end as car_auc_0_28,
        persistence.car_last_detectable_day
    from index_infusions
    left join lab_peaks on index_infusions.patient_key = lab_peaks.patient_key
    left join peaks on index_infusions.patient_key = peaks.patient_key
    left join auc on index_infusions.patient_key = auc.patient_key
    left join persistence on index_infusions.patient_key = persistence.patient_key
)

select * from final
