{#
  Nothing is dropped silently: every source row of every file of the centres' current
  deliveries, with what became of it, and every breach of its values. A wide row that became
  several canonical rows is quarantined when any of them is; a wide row without any value is
  'empty'. A long-layout row without a staged row would be 'lost' - the reconciliation check
  fails on any. Values: field_breaches (the contract breaches of its staged rows) must equal
  nulled_fields (set to missing, quality.nulled_fields) + quarantined_breaches (listed with a
  row held back, quality.quarantine) + removed_copy_breaches (in an exact copy that was
  removed; the copy kept accounts for them); fields_unaccounted is the difference.
#}
{%- set entities = canonical_columns().keys() | list -%}
{%- set layouts = centre_layouts() -%}
with

current_deliveries as (
    select * from {{ ref('int_current_deliveries_staged') }}
),

source_rows as (
    {%- for centre, entity in delivered_raw_tables() %}
    select
        '{{ centre }}' as centre_code,
        '{{ entity }}' as entity,
        {{ 'true' if layouts[centre][entity].wide else 'false' }} as wide_layout,
        raw_rows._delivery_id,
        raw_rows._source_file,
        raw_rows._row_number
    from {{ source('raw', centre ~ '__' ~ entity) }} as raw_rows
    inner join current_deliveries
        on current_deliveries.centre_code = '{{ centre }}'
        and raw_rows._delivery_id = current_deliveries.delivery_id
    {% if not loop.last %}union all{% endif %}
    {%- else %}
    select
        cast(null as varchar) as centre_code, cast(null as varchar) as entity,
        false as wide_layout, cast(null as varchar) as _delivery_id,
        cast(null as varchar) as _source_file, cast(null as bigint) as _row_number
    where false
    {%- endfor %}
),

staged_rows as (
    {%- for entity in entities %}
    select
        centre_code,
        '{{ entity }}' as entity,
        _source_file,
        _row_number,
        count(*) as canonical_rows,
        count(*) filter (where _row_status = 'passed') as passed_rows,
        count(*) filter (where _row_status = 'quarantined') as quarantined_rows,
        count(*) filter (where _row_status = 'duplicate_removed') as duplicate_rows,
        sum(len(_violations)) as field_breaches,
        coalesce(sum(len(_violations)) filter (where _row_status = 'duplicate_removed'), 0)
            as removed_copy_breaches
    from {{ ref('int_' ~ entity ~ '_checked') }}
    group by all
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

nulled as (
    select centre_code, entity, source_file, source_row_number, count(*) as nulled_fields
    from {{ ref('nulled_fields') }}
    group by all
),

held as (
    select centre_code, entity, source_file, source_row_number, count(*) as quarantined_breaches
    from {{ ref('quarantine') }}
    where "rule" <> 'conflicting_duplicate'
    group by all
),

final as (
    select
        source_rows.centre_code,
        source_rows._delivery_id as delivery_id,
        source_rows.entity,
        source_rows._source_file as source_file,
        source_rows._row_number as source_row_number,
        coalesce(staged_rows.canonical_rows, 0) as canonical_rows,
        coalesce(staged_rows.passed_rows, 0) as passed_rows,
        coalesce(staged_rows.quarantined_rows, 0) as quarantined_rows,
        coalesce(staged_rows.duplicate_rows, 0) as duplicate_rows,
        coalesce(staged_rows.field_breaches, 0) as field_breaches,
        coalesce(nulled.nulled_fields, 0) as nulled_fields,
        coalesce(held.quarantined_breaches, 0) as quarantined_breaches,
        coalesce(staged_rows.removed_copy_breaches, 0) as removed_copy_breaches,
        coalesce(staged_rows.field_breaches, 0) - coalesce(nulled.nulled_fields, 0)
            - coalesce(held.quarantined_breaches, 0)
            - coalesce(staged_rows.removed_copy_breaches, 0) as fields_unaccounted,
        case
            when staged_rows.canonical_rows is null and source_rows.wide_layout then 'empty'
            when staged_rows.canonical_rows is null then 'lost'
            when staged_rows.quarantined_rows > 0 then 'quarantined'
            when staged_rows.duplicate_rows = staged_rows.canonical_rows then 'duplicate_removed'
            else 'passed'
        end as status
    from source_rows
    left join staged_rows
        on source_rows.centre_code = staged_rows.centre_code
        and source_rows.entity = staged_rows.entity
        and source_rows._source_file = staged_rows._source_file
        and source_rows._row_number = staged_rows._row_number
    left join nulled
        on source_rows.centre_code = nulled.centre_code
        and source_rows.entity = nulled.entity
        and source_rows._source_file = nulled.source_file
        and source_rows._row_number = nulled.source_row_number
    left join held
        on source_rows.centre_code = held.centre_code
        and source_rows.entity = held.entity
        and source_rows._source_file = held.source_file
        and source_rows._row_number = held.source_row_number
)

select * from final
