/// The portal's HTML templates (Mustache; `{{ }}` escapes, so data never becomes markup).
/// They live in the binary so an installed `portal` needs no resource folder beside it.
enum PageTemplates {
    static let layout = """
        <!DOCTYPE html>
        <html lang="pt-BR">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{$title}}Portal{{/title}} · Portal</title>
        <style>
        body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2733}
        header{background:#1f4e79;color:#fff;padding:.75rem 1.5rem;display:flex;justify-content:space-between;align-items:center}
        header form{margin:0}
        main{max-width:56rem;margin:2rem auto;padding:0 1rem}
        .card{background:#fff;border-radius:8px;padding:1.5rem;box-shadow:0 1px 3px rgba(0,0,0,.1)}
        label{display:block;margin:.75rem 0}
        input{display:block;width:100%;padding:.5rem;margin-top:.25rem;box-sizing:border-box}
        button{padding:.5rem 1rem;border:0;border-radius:4px;background:#1f4e79;color:#fff;cursor:pointer}
        header button{background:#fff;color:#1f4e79}
        header a{color:#fff}
        .erro{color:#a4262c;background:#fde7e9;padding:.5rem;border-radius:4px}
        table{width:100%;border-collapse:collapse}
        th,td{text-align:left;padding:.5rem;border-bottom:1px solid #e1e4e8}
        .status{font-size:.85rem;padding:.15rem .5rem;border-radius:1rem;background:#e8eef5}
        </style>
        </head>
        <body>
        <header><strong>Portal</strong>{{#user}}<span><a href="/tasks">Tarefas</a> · <a href="/sessions">Sessões</a> · {{#isAdmin}}<a href="/admin/audit">Auditoria</a> · {{/isAdmin}}{{name}}
        <form method="post" action="/logout" style="display:inline"><input type="hidden" name="csrf_token" value="{{csrf}}"><button type="submit">Sair</button></form></span>{{/user}}</header>
        <main>{{$content}}{{/content}}</main>
        </body>
        </html>
        """

    static let login = """
        {{<layout}}{{$title}}Entrar{{/title}}{{$content}}
        <div class="card">
        <h1>Entrar no Portal</h1>
        {{#error}}<p class="erro" role="alert">{{error}}</p>{{/error}}
        <form method="post" action="/login">
        <input type="hidden" name="csrf_token" value="{{csrf}}">
        <input type="hidden" name="next" value="{{next}}">
        <label>E-mail <input type="email" name="email" value="{{email}}" required autocomplete="username" autofocus></label>
        <label>Senha <input type="password" name="password" required autocomplete="current-password"></label>
        <button type="submit">Entrar</button>
        </form>
        </div>
        {{/content}}{{/layout}}
        """

    static let forbidden = """
        {{<layout}}{{$title}}Acesso negado{{/title}}{{$content}}
        <div class="card">
        <h1>Acesso negado</h1>
        <p class="erro" role="alert">{{message}}</p>
        <p><a href="/tasks">Voltar</a></p>
        </div>
        {{/content}}{{/layout}}
        """

    static let tooManyRequests = """
        {{<layout}}{{$title}}Muitas requisições{{/title}}{{$content}}
        <div class="card">
        <h1>Muitas requisições</h1>
        <p class="erro" role="alert">{{message}}</p>
        </div>
        {{/content}}{{/layout}}
        """

    static let tasks = """
        {{<layout}}{{$title}}{{#seesAll}}Tarefas do escritório{{/seesAll}}{{^seesAll}}Minhas tarefas{{/seesAll}}{{/title}}{{$content}}
        <div class="card">
        <h1>{{#seesAll}}Tarefas do escritório{{/seesAll}}{{^seesAll}}Minhas tarefas{{/seesAll}}</h1>
        {{#hasTasks}}
        <table>
        <thead><tr><th>Tarefa</th>{{#seesAll}}<th>Responsável</th>{{/seesAll}}<th>Situação</th><th>Prazo</th></tr></thead>
        <tbody>
        {{#tasks}}<tr><td><strong>{{title}}</strong><br><small>{{details}}</small></td>{{#seesAll}}<td>{{assignee}}</td>{{/seesAll}}<td><span class="status">{{status}}</span></td><td>{{due}}</td></tr>
        {{/tasks}}
        </tbody>
        </table>
        {{/hasTasks}}
        {{^hasTasks}}<p>{{#seesAll}}Nenhuma tarefa cadastrada.{{/seesAll}}{{^seesAll}}Nenhuma tarefa atribuída a você.{{/seesAll}}</p>{{/hasTasks}}
        </div>
        {{/content}}{{/layout}}
        """

    static let sessions = """
        {{<layout}}{{$title}}Minhas sessões{{/title}}{{$content}}
        <div class="card">
        <h1>Minhas sessões</h1>
        <p>Locais em que sua conta está conectada. Encerre qualquer sessão que você não reconheça.</p>
        <table>
        <thead><tr><th>Navegador</th><th>Endereço</th><th>Início</th><th>Última atividade</th><th></th></tr></thead>
        <tbody>
        {{#sessions}}<tr><td>{{browser}}</td><td>{{address}}</td><td>{{created}}</td><td>{{lastSeen}}</td><td>
        {{#current}}<strong>Esta sessão</strong>{{/current}}
        <form method="post" action="/sessions/revoke"><input type="hidden" name="csrf_token" value="{{csrf}}"><input type="hidden" name="id" value="{{id}}"><button type="submit">Encerrar</button></form>
        </td></tr>
        {{/sessions}}
        </tbody>
        </table>
        {{#hasOthers}}<form method="post" action="/sessions/revoke-others"><input type="hidden" name="csrf_token" value="{{csrf}}"><p><button type="submit">Encerrar todas as outras sessões</button></p></form>{{/hasOthers}}
        </div>
        {{/content}}{{/layout}}
        """

    static let audit = """
        {{<layout}}{{$title}}Auditoria{{/title}}{{$content}}
        <div class="card">
        <h1>Registro de auditoria</h1>
        <form method="get" action="/admin/audit">
        <label>Tipo <select name="tipo"><option value="">Todos</option>{{#kinds}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/kinds}}</select></label>
        <label>Busca (e-mail, endereço ou detalhe) <input name="busca" value="{{text}}"></label>
        <button type="submit">Filtrar</button>
        </form>
        {{#hasEvents}}
        <table>
        <thead><tr><th>Quando</th><th>Evento</th><th>E-mail</th><th>Endereço</th><th>Detalhe</th></tr></thead>
        <tbody>
        {{#events}}<tr><td>{{at}}</td><td>{{kind}}</td><td>{{email}}</td><td>{{address}}</td><td>{{detail}}</td></tr>
        {{/events}}
        </tbody>
        </table>
        {{/hasEvents}}
        {{^hasEvents}}<p>Nenhum evento encontrado.</p>{{/hasEvents}}
        </div>
        {{/content}}{{/layout}}
        """
}
