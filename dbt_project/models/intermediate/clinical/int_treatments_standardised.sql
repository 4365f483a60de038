{#
  One row per distinct administration (exact duplicate rows collapse: the dose is the day's
  total, so a repeated row is a repeated delivery, not a second dose), for patients with an
  index infusion, with its study day, drug class, dose in mg (mg/kg x the patient's weight)
  and dexamethasone-equivalent dose (seed drug_classes; corticosteroids only).
#}
with

treatments as (
    select * from {{ ref('int_treatments_accepted') }}
),

index_infusions as (
    select patient_key, centre_code, infusion_date from {{ ref('int_index_infusions') }}
),

patients as (
    select patient_key, weight_kg from {{ ref('int_patients_deduplicated') }}
),

drug_classes as (
    select * from {{ ref('drug_classes') }}
),

distinct_administrations as (
    select distinct
        patient_key,
        admin_date,
        drug,
        dose,
        dose_unit,
        indication
    from treatments
    where patient_key is not null
        and admin_date is not null
        and drug is not null
),

standardised as (
    select
        administrations.patient_key,
        index_infusions.centre_code,
        administrations.admin_date,
        administrations.admin_date - index_infusions.infusion_date as study_day,
        administrations.drug,
        drug_classes.drug_class,
        administrations.dose,
        administrations.dose_unit,
        administrations.indication,
        patients.weight_kg,
        case administrations.dose_unit
            when 'mg' then administrations.dose
            when 'mg_per_kg' then administrations.dose * patients.weight_kg
        end as dose_mg,
        drug_classes.dex_equivalent_factor,
        (administrations.dose_unit = 'mg_per_kg' and patients.weight_kg is null)
            as mg_per_kg_without_weight
    from distinct_administrations as administrations
    inner join index_infusions on administrations.patient_key = index_infusions.patient_key
    left join patients on administrations.patient_key = patients.patient_key
    left join drug_classes on administrations.drug = drug_classes.drug
),

final as (
    select
        *,
        case when drug_class = 'corticosteroid' then dose_mg * dex_equivalent_factor end
            as dex_equiv_mg
    from standardised
)

select * from final
