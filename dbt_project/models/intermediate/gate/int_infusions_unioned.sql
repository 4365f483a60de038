{{ union_staged('infusions') }}
