{#
  The current delivery of each centre that is staged. A registered centre whose mapping file
  is invalid has no staging models (cartwh.transform.codegen leaves it out and its raw asset
  reports why): its raw rows must not count as lost, nor its checks as failed, downstream.
#}
with

current_deliveries as (
    select * from {{ source('raw', 'current_deliveries') }}
),

final as (
    select current_deliveries.centre_code, current_deliveries.delivery_id
    from current_deliveries
    where list_contains(
        [{% for centre in cartwh_centres() %}'{{ centre }}'{{ ', ' if not loop.last }}{% endfor %}]::varchar[],
        current_deliveries.centre_code
    )
)

select * from final
