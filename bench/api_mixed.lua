-- bench/api scenario "mixed": 80% reads (70% get, 10% list), 20% creates.
dofile(os.getenv("BENCH_LUA_DIR") .. "/api_common.lua")
request = function()
  local r = math.random(100)
  if r <= 70 then
    return get_instance()
  elseif r <= 80 then
    return list_page()
  end
  return create_instance("m")
end
