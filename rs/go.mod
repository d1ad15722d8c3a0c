module github.com/latch-idp/latch/rs

go 1.26.8

require github.com/go-jose/go-jose/v4 v4.1.9
