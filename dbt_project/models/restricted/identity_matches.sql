{#
  Possible duplicate patients: the same date of birth, sex and index infusion date under two
  patient ids, within a centre (duplicate_patient_within_centre) or across centres
  (same_patient_two_centres). Flag only: no record is changed. Restricted because it reads
  dates of birth; its output carries pseudonymous keys and no identifier.
#}
with

birth_dates as (
    {{ staged_birth_dates('len(list_filter(_violations, lambda v: v.key_field)) = 0') }}
),

crosswalk as (
    select * from {{ ref('patient_crosswalk') }}
),

index_infusions as (
    select * from {{ ref('int_index_infusions') }}
),

identities as (
    select distinct
        crosswalk.patient_key,
        birth_dates.centre_code,
        birth_dates.date_of_birth,
        birth_dates.sex,
        index_infusions.infusion_date
    from birth_dates
    inner join crosswalk
        on birth_dates.centre_code = crosswalk.centre_code
        and birth_dates.centre_patient_id = crosswalk.centre_patient_id
    inner join index_infusions on crosswalk.patient_key = index_infusions.patient_key
),

pairs as (
    select
        case when one.centre_code = other.centre_code
            then 'duplicate_patient_within_centre' else 'same_patient_two_centres' end as check_name,
        one.centre_code,
        one.patient_key,
        other.centre_code as other_centre_code,
        other.patient_key as other_patient_key
    from identities as one
    inner join identities as other
        on one.date_of_birth = other.date_of_birth
        and one.sex = other.sex
        and one.infusion_date = other.infusion_date
        and one.patient_key <> other.patient_key
),

final as (
    select
        check_name,
        centre_code,
        patient_key,
        other_centre_code,
        other_patient_key,
        'same date of birth, sex and infusion date as patient ' || other_patient_key
            || ' of centre ' || other_centre_code as detail
    from pairs
)

select * from final
