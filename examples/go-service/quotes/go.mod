module example.invalid/quotes

go 1.22
