{#
  Patients of every centre's current delivery. Direct identifiers stop at staging: the date of
  birth is read here only to derive the age at the index infusion, and is not selected.
#}
with

unioned as (
    {{ union_staged('patients') }}
),

birth_dates as (
    {{ staged_birth_dates() }}
),

index_infusions as (
    select * from {{ ref('int_index_infusions') }}
),

crosswalk as (
    select * from {{ ref('patient_crosswalk') }}
),

ages as (
    select
        crosswalk.patient_key,
        min(date_part('year', age(index_infusions.infusion_date, birth_dates.date_of_birth)))
            as age_at_infusion
    from birth_dates
    inner join crosswalk
        on birth_dates.centre_code = crosswalk.centre_code
        and birth_dates.centre_patient_id = crosswalk.centre_patient_id
    inner join index_infusions on crosswalk.patient_key = index_infusions.patient_key
    group by crosswalk.patient_key
),

final as (
    select
        unioned.*,
        ages.age_at_infusion
    from unioned
    left join ages on unioned.patient_key = ages.patient_key
)

select * from final
