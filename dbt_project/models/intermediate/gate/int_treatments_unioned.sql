{{ union_staged('treatments') }}
