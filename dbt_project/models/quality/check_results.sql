{#
  One row per check, centre (its current delivery) and table, DataQualityDashboard style:
  numerator (failing), denominator (checked), percent failing, and a status: not_applicable
  when nothing was checked, failed when the percent exceeds the threshold, else passed.
#}
{%- set entities = canonical_columns().keys() | list -%}
{%- set dated = entity_date_columns() -%}
with

catalogue as (
    select * from {{ ref('check_catalogue') }}
),

current_deliveries as (
    select * from {{ ref('int_current_deliveries_staged') }}
),

ledger as (
    select * from {{ source('raw', 'deliveries') }}
),

quarantine as (
    select * from {{ ref('quarantine') }}
),

nulled_fields as (
    select * from {{ ref('nulled_fields') }}
),

-- contract breaches: source rows held back for a breach, or with a value set to missing
breached_rows as (
    select distinct centre_code, entity, "rule", source_file, source_row_number, source_day
    from quarantine
    union
    select distinct centre_code, entity, "rule", source_file, source_row_number, source_day
    from nulled_fields
),

reconciliation as (
    select * from {{ ref('reconciliation') }}
),

findings as (
    select * from {{ ref('plausibility_findings') }}
),

crosswalk as (
    select * from {{ ref('patient_crosswalk') }}
),

index_infusions as (
    select * from {{ ref('int_index_infusions') }}
),

entities as (
    select unnest({{ entities }}) as table_name
),

checked_rows as (
    {%- for entity in entities %}
    select
        centre_code, '{{ entity }}' as table_name, count(*) as canonical_rows,
        count(*) filter (where _status_rule = 'exact_duplicate') as exact_duplicates,
        count(*) filter (where _status_rule = 'conflicting_duplicate') as conflicting_duplicates
    from {{ ref('int_' ~ entity ~ '_checked') }}
    group by all
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

-- contract and duplicate checks, per entity: rows failing (held back or with a value set to
-- missing) / staged rows
contract_measures as (
    select
        catalogue.check_name, current_deliveries.centre_code, entities.table_name,
        case catalogue.check_name
            when 'exact_duplicate' then coalesce(checked_rows.exact_duplicates, 0)
            when 'conflicting_duplicate' then coalesce(checked_rows.conflicting_duplicates, 0)
            else coalesce((
                select count(*)
                from breached_rows
                where breached_rows.centre_code = current_deliveries.centre_code
                    and breached_rows.entity = entities.table_name
                    and breached_rows.rule = catalogue.check_name
            ), 0)
        end as numerator,
        coalesce(checked_rows.canonical_rows, 0) as denominator
    from catalogue
    cross join current_deliveries
    cross join entities
    left join checked_rows
        on checked_rows.centre_code = current_deliveries.centre_code
        and checked_rows.table_name = entities.table_name
    where catalogue.check_name in ('required_missing', 'unknown_code', 'unparsable', 'out_of_range',
                                   'conflicting_duplicate', 'exact_duplicate')
),

file_measures as (
    select
        'file_delivered' as check_name, current_deliveries.centre_code, entities.table_name,
        case when bool_or(ledger.status = 'loaded') then 0 else 1 end as numerator,
        1 as denominator
    from current_deliveries
    cross join entities
    left join ledger
        on ledger.centre_code = current_deliveries.centre_code
        and ledger.delivery_id = current_deliveries.delivery_id
        and ledger.entity = entities.table_name
    group by all
),

reconciliation_measures as (
    select
        'reconciliation_balanced' as check_name, current_deliveries.centre_code, entities.table_name,
        coalesce(reconciled.lost_rows, 0) + coalesce(reconciled.unaccounted_value_rows, 0)
            + abs(coalesce(ledgered.rows_read, 0) - coalesce(reconciled.source_rows, 0))
            as numerator,
        greatest(coalesce(ledgered.rows_read, 0), coalesce(reconciled.source_rows, 0)) as denominator
    from current_deliveries
    cross join entities
    left join (
        select centre_code, entity, count(*) as source_rows,
            count(*) filter (where status not in ('passed', 'quarantined', 'duplicate_removed', 'empty'))
                as lost_rows,
            count(*) filter (where fields_unaccounted <> 0) as unaccounted_value_rows
        from reconciliation group by all
    ) as reconciled
        on reconciled.centre_code = current_deliveries.centre_code
        and reconciled.entity = entities.table_name
    left join (
        -- rows of patients erased since (cartwh erase) are no longer in raw: not lost
        select centre_code, delivery_id, entity,
            sum(rows_read - coalesce(rows_erased, 0)) as rows_read
        from ledger where status = 'loaded' group by all
    ) as ledgered
        on ledgered.centre_code = current_deliveries.centre_code
        and ledgered.delivery_id = current_deliveries.delivery_id
        and ledgered.entity = entities.table_name
),

patient_measures as (
    select
        'has_patients' as check_name, current_deliveries.centre_code, 'patients' as table_name,
        case when count(accepted.patient_key) = 0 then 1 else 0 end as numerator,
        1 as denominator
    from current_deliveries
    left join {{ ref('int_patients_accepted') }} as accepted
        on accepted.centre_code = current_deliveries.centre_code
    group by all
    union all
    select
        'index_infusion_missing', crosswalk.centre_code, 'infusions',
        count(*) filter (where index_infusions.patient_key is null),
        count(*)
    from crosswalk
    left join index_infusions on crosswalk.patient_key = index_infusions.patient_key
    group by all
),

plausibility_denominators as (
    select 'event_before_infusion' as check_name, centre_code, count(*) as denominator
    from {{ ref('int_follow_up_events_accepted') }} as rows
    where patient_key in (select patient_key from index_infusions) group by all
    union all
    select 'assessment_before_infusion', centre_code, count(*)
    from {{ ref('int_response_assessments_accepted') }}
    where patient_key in (select patient_key from index_infusions) group by all
    union all
    select 'event_before_cr', centre_code, count(*)
    from {{ ref('int_follow_up_events_accepted') }}
    where event_type in ('death', 'relapse')
        and patient_key in (select patient_key from {{ ref('int_response_evaluated') }} where cr_date is not null)
    group by all
    union all
    select 'death_before_relapse', centre_code, count(distinct patient_key)
    from {{ ref('int_follow_up_events_accepted') }}
    where patient_key in (select patient_key from {{ ref('int_follow_up_events_accepted') }} where event_type = 'death')
        and patient_key in (select patient_key from {{ ref('int_follow_up_events_accepted') }} where event_type = 'relapse')
    group by all
    union all
    select 'toxicity_treatment_after_window', centre_code, count(*)
    from {{ ref('int_treatments_accepted') }} where indication in ('crs', 'icans') group by all
    union all
    select 'steroid_dose_implausible', centre_code, count(distinct (patient_key, admin_date))
    from {{ ref('int_treatments_standardised') }} where drug_class = 'corticosteroid' group by all
    union all
    select 'kinetics_without_infusion', centre_code, count(*)
    from {{ ref('int_car_t_kinetics_accepted') }} group by all
    union all
    select 'record_after_cutoff', centre_code, sum(n) from (
        {%- for entity in dated %}
        select centre_code, count(*) as n from {{ ref('int_' ~ entity ~ '_accepted') }} group by all
        {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    ) group by all
    union all
    select 'sparse_observation', centre_code, count(*)
    from {{ ref('int_toxicity_summarised') }} group by all
    union all
    select 'mg_per_kg_without_weight', centre_code, count(*)
    from {{ ref('int_treatments_accepted') }} where dose_unit = 'mg_per_kg' group by all
    union all
    select 'duplicate_patient_within_centre', centre_code, count(*) from index_infusions group by all
    union all
    select 'same_patient_two_centres', centre_code, count(*) from index_infusions group by all
),

plausibility_measures as (
    select
        catalogue.check_name, current_deliveries.centre_code, catalogue.table_name,
        coalesce((select count(*) from findings
                  where findings.check_name = catalogue.check_name
                      and findings.centre_code = current_deliveries.centre_code), 0) as numerator,
        coalesce(plausibility_denominators.denominator, 0) as denominator
    from catalogue
    cross join current_deliveries
    left join plausibility_denominators
        on plausibility_denominators.check_name = catalogue.check_name
        and plausibility_denominators.centre_code = current_deliveries.centre_code
    where catalogue.check_name in (select distinct check_name from plausibility_denominators)
),

measures as (
    select * from contract_measures
    union all select * from file_measures
    union all select * from reconciliation_measures
    union all select * from patient_measures
    union all select * from plausibility_measures
),

final as (
    select
        measures.check_name,
        catalogue.category,
        catalogue.subcategory,
        catalogue.context,
        measures.table_name,
        catalogue.column_name,
        measures.centre_code,
        current_deliveries.delivery_id,
        catalogue.threshold_pct,
        catalogue.severity,
        cast(measures.numerator as bigint) as numerator,
        cast(measures.denominator as bigint) as denominator,
        case when measures.denominator > 0
            then round(100.0 * measures.numerator / measures.denominator, 2) end as pct_failing,
        case
            when measures.denominator = 0 then 'not_applicable'
            when 100.0 * measures.numerator / measures.denominator > catalogue.threshold_pct then 'failed'
            else 'passed'
        end as status,
        catalogue.description
    from measures
    inner join catalogue on measures.check_name = catalogue.check_name
    inner join current_deliveries on measures.centre_code = current_deliveries.centre_code
)

select * from final
