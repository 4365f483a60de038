{#
  Cross-field clinical plausibility: one row per finding (flag, not quarantine), with the
  patient_key and the source row where one exists. The checks and their thresholds are in
  seeds/check_catalogue.csv; quality.check_results counts them over their denominators.
  Baseline labs and observations before day 0 are legitimate and not flagged.
#}
{%- set cutoff = cutoff_date() -%}
{%- set dated = entity_date_columns() -%}
with

index_infusions as (
    select * from {{ ref('int_index_infusions') }}
),

follow_up as (
    select * from {{ ref('int_follow_up_events_accepted') }}
),

assessments as (
    select * from {{ ref('int_response_assessments_accepted') }}
),

responses as (
    select patient_key, cr_day, cr_date from {{ ref('int_response_evaluated') }}
),

kinetics as (
    select * from {{ ref('int_car_t_kinetics_accepted') }}
),

treatments as (
    select * from {{ ref('int_treatments_standardised') }}
),

treatment_rows as (
    select * from {{ ref('int_treatments_accepted') }}
),

toxicity as (
    select * from {{ ref('int_toxicity_summarised') }}
),

identity_matches as (
    select * from {{ ref('identity_matches') }}
),

events_before_infusion as (
    select
        'event_before_infusion' as check_name, follow_up.centre_code, follow_up._delivery_id,
        follow_up.patient_key, 'follow_up_events' as entity, follow_up._source_file,
        follow_up._row_number, cast(follow_up.event_date - index_infusions.infusion_date as varchar) as "value",
        follow_up.event_type || ' dated day ' || (follow_up.event_date - index_infusions.infusion_date)
            || ', before the index infusion' as detail
    from follow_up
    inner join index_infusions on follow_up.patient_key = index_infusions.patient_key
    where follow_up.event_date < index_infusions.infusion_date
),

assessments_before_infusion as (
    select
        'assessment_before_infusion', assessments.centre_code, assessments._delivery_id,
        assessments.patient_key, 'response_assessments', assessments._source_file,
        assessments._row_number, cast(assessments.assessment_date - index_infusions.infusion_date as varchar),
        'response assessment dated day ' || (assessments.assessment_date - index_infusions.infusion_date)
            || ', before the index infusion'
    from assessments
    inner join index_infusions on assessments.patient_key = index_infusions.patient_key
    where assessments.assessment_date < index_infusions.infusion_date
),

events_before_cr as (
    -- from day 0 on (earlier ones are event_before_infusion): the patient's LFS is excluded
    select
        'event_before_cr', follow_up.centre_code, follow_up._delivery_id,
        follow_up.patient_key, 'follow_up_events', follow_up._source_file,
        follow_up._row_number, cast(follow_up.event_date - index_infusions.infusion_date as varchar),
        follow_up.event_type || ' dated day ' || (follow_up.event_date - index_infusions.infusion_date)
            || ', before the CR date (day ' || responses.cr_day || ')'
    from follow_up
    inner join index_infusions on follow_up.patient_key = index_infusions.patient_key
    inner join responses on follow_up.patient_key = responses.patient_key
    where follow_up.event_type in ('death', 'relapse')
        and follow_up.event_date >= index_infusions.infusion_date
        and follow_up.event_date < responses.cr_date
),

deaths as (
    select patient_key, centre_code, min(event_date) as death_date,
        arg_min(_source_file, event_date) as _source_file, arg_min(_row_number, event_date) as _row_number,
        any_value(_delivery_id) as _delivery_id
    from follow_up where event_type = 'death' group by all
),

relapses as (
    select patient_key, max(event_date) as last_relapse_date
    from follow_up where event_type = 'relapse' group by all
),

death_before_relapse as (
    select
        'death_before_relapse', deaths.centre_code, deaths._delivery_id, deaths.patient_key,
        'follow_up_events', deaths._source_file, deaths._row_number,
        cast(relapses.last_relapse_date - deaths.death_date as varchar),
        'a relapse is dated ' || (relapses.last_relapse_date - deaths.death_date) || ' days after death'
    from deaths
    inner join relapses on deaths.patient_key = relapses.patient_key
    where relapses.last_relapse_date > deaths.death_date
),

toxicity_treatment_after_window as (
    select
        'toxicity_treatment_after_window', treatment_rows.centre_code, treatment_rows._delivery_id,
        treatment_rows.patient_key, 'treatments', treatment_rows._source_file,
        treatment_rows._row_number, cast(treatment_rows.admin_date - index_infusions.infusion_date as varchar),
        treatment_rows.drug || ' for ' || treatment_rows.indication || ' on day '
            || (treatment_rows.admin_date - index_infusions.infusion_date)
            || ', after the toxicity window (day {{ var("toxicity_window_days") }})'
    from treatment_rows
    inner join index_infusions on treatment_rows.patient_key = index_infusions.patient_key
    where treatment_rows.indication in ('crs', 'icans')
        and treatment_rows.admin_date - index_infusions.infusion_date > {{ var('toxicity_window_days') }}
),

steroid_daily as (
    select patient_key, centre_code, admin_date, sum(dex_equiv_mg) as dex_equiv_mg
    from treatments
    where drug_class = 'corticosteroid' and dex_equiv_mg is not null
    group by all
),

steroid_dose_implausible as (
    select
        'steroid_dose_implausible', steroid_daily.centre_code, cast(null as varchar),
        steroid_daily.patient_key, 'treatments', cast(null as varchar), cast(null as bigint),
        cast(round(steroid_daily.dex_equiv_mg, 2) as varchar),
        'corticosteroids of ' || round(steroid_daily.dex_equiv_mg, 2)
            || ' mg dexamethasone-equivalent in one day (plausible: {{ var("steroid_min_daily_dex_mg") }}'
            || '-{{ var("steroid_max_daily_dex_mg") }} mg)'
    from steroid_daily
    where steroid_daily.dex_equiv_mg > {{ var('steroid_max_daily_dex_mg') }}
        or steroid_daily.dex_equiv_mg < {{ var('steroid_min_daily_dex_mg') }}
),

kinetics_without_infusion as (
    select
        'kinetics_without_infusion', kinetics.centre_code, kinetics._delivery_id, kinetics.patient_key,
        'car_t_kinetics', kinetics._source_file, kinetics._row_number, cast(null as varchar),
        'CAR-T kinetics sample of a patient without an index infusion'
    from kinetics
    left join index_infusions on kinetics.patient_key = index_infusions.patient_key
    where index_infusions.patient_key is null
),

records_after_cutoff as (
    {%- for entity, date_column in dated.items() %}
    select
        'record_after_cutoff', centre_code, _delivery_id, patient_key, '{{ entity }}',
        _source_file, _row_number, cast({{ date_column }} - {{ cutoff }} as varchar),
        '{{ entity }} dated ' || ({{ date_column }} - {{ cutoff }}) || ' days after the data cut-off'
    from {{ ref('int_' ~ entity ~ '_accepted') }}
    where {{ date_column }} > {{ cutoff }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

sparse_observation as (
    select
        'sparse_observation', toxicity.centre_code, cast(null as varchar), toxicity.patient_key,
        'daily_observations', cast(null as varchar), cast(null as bigint),
        cast(toxicity.observed_days_in_window as varchar),
        toxicity.observed_days_in_window || ' observed days in the toxicity window (fewer than 14)'
    from toxicity
    where toxicity.sparse_observation
),

mg_per_kg_without_weight as (
    select
        'mg_per_kg_without_weight', treatment_rows.centre_code, treatment_rows._delivery_id,
        treatment_rows.patient_key, 'treatments', treatment_rows._source_file,
        treatment_rows._row_number, cast(treatment_rows.dose as varchar),
        treatment_rows.drug || ' ' || treatment_rows.dose || ' mg/kg but the patient has no weight'
    from treatment_rows
    inner join treatments
        on treatment_rows.patient_key = treatments.patient_key
        and treatment_rows.admin_date = treatments.admin_date
        and treatment_rows.drug = treatments.drug
    where treatments.mg_per_kg_without_weight
),

duplicate_identities as (
    select
        check_name, centre_code, cast(null as varchar), patient_key, 'patients',
        cast(null as varchar), cast(null as bigint), cast(null as varchar), detail
    from identity_matches
),

findings as (
    select * from events_before_infusion
    union all select * from assessments_before_infusion
    union all select * from events_before_cr
    union all select * from death_before_relapse
    union all select * from toxicity_treatment_after_window
    union all select * from steroid_dose_implausible
    union all select * from kinetics_without_infusion
    union all select * from records_after_cutoff
    union all select * from sparse_observation
    union all select * from mg_per_kg_without_weight
    union all select * from duplicate_identities
),

final as (
    select
        check_name,
        centre_code,
        _delivery_id as delivery_id,
        patient_key,
        entity,
        _source_file as source_file,
        _row_number as source_row_number,
        "value",
        detail
    from findings
)

select * from final
