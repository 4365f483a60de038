{#
  One row per distinct lab result (exact duplicates collapse) of a patient with an index
  infusion, converted to the analyte's standard unit with seed unit_conversions
  (value x scale + shift, by quantity = analyte and from_unit = unit): il6 pg/mL,
  ferritin ng/mL, crp mg/L. A unit without a conversion leaves the value missing
  (has_known_unit = false, a quality finding).
#}
with

labs as (
    select * from {{ ref('int_labs_accepted') }}
),

index_infusions as (
    select patient_key, centre_code, infusion_date from {{ ref('int_index_infusions') }}
),

unit_conversions as (
    select * from {{ ref('unit_conversions') }}
),

distinct_results as (
    select distinct
        patient_key,
        sample_date,
        analyte,
        value,
        unit
    from labs
    where patient_key is not null
        and sample_date is not null
        and analyte is not null
),

final as (
    select
        results.patient_key,
        index_infusions.centre_code,
        results.sample_date,
        results.sample_date - index_infusions.infusion_date as study_day,
        results.analyte,
        results.value as value_as_delivered,
        results.unit as unit_as_delivered,
        results.value * unit_conversions.scale + unit_conversions.shift as value,
        unit_conversions.to_unit as unit,
        unit_conversions.to_unit is not null as has_known_unit
    from distinct_results as results
    inner join index_infusions on results.patient_key = index_infusions.patient_key
    left join unit_conversions
        on results.analyte = unit_conversions.quantity
        and lower(results.unit) = lower(unit_conversions.from_unit)
)

select * from final
