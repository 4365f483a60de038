{#
  Nothing is dropped silently: every source row of every file of the centres' current
  deliveries, with what became of it. A wide row that became several canonical rows is
  quarantined when any of them is; a wide row without any value is 'empty'. A long-layout
  row without a staged row would be 'lost' - the reconciliation check fails on any.
#}
{%- set entities = canonical_columns().keys() | list -%}
{%- set layouts = centre_layouts() -%}
with

current_deliveries as (
    select * from {{ source('raw', 'current_deliveries') }}
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
        count(*) filter (where _row_status = 'duplicate_removed') as duplicate_rows
    from {{ ref('int_' ~ entity ~ '_checked') }}
    group by all
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
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
)

select * from final
