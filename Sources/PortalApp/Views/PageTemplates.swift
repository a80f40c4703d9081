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
        input,select{display:block;width:100%;padding:.5rem;margin-top:.25rem;box-sizing:border-box}
        td form{display:inline;margin:0}
        .ok{color:#0b6a0b;background:#dff6dd;padding:.5rem;border-radius:4px}
        code{word-break:break-all;background:#f0f2f5;padding:.25rem .4rem;border-radius:4px}
        button{padding:.5rem 1rem;border:0;border-radius:4px;background:#1f4e79;color:#fff;cursor:pointer}
        header button{background:#fff;color:#1f4e79}
        a.botao{display:inline-block;padding:.5rem 1rem;border:1px solid #1f4e79;border-radius:4px;color:#1f4e79;text-decoration:none}
        header a{color:#fff}
        .erro{color:#a4262c;background:#fde7e9;padding:.5rem;border-radius:4px}
        table{width:100%;border-collapse:collapse}
        th,td{text-align:left;padding:.5rem;border-bottom:1px solid #e1e4e8}
        .status{font-size:.85rem;padding:.15rem .5rem;border-radius:1rem;background:#e8eef5}
        </style>
        </head>
        <body>
        <header><strong>Portal</strong>{{#user}}<span><a href="/tasks">Tarefas</a> · <a href="/companies">Empresas</a> · <a href="/tokens">Tokens de API</a> · <a href="/sessions">Sessões</a> · <a href="/account/password">Senha</a> · {{#isAdmin}}<a href="/admin/users">Usuários</a> · <a href="/admin/audit">Auditoria</a> · {{/isAdmin}}{{name}}
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
        {{#google}}<p style="margin-top:1.5rem"><a class="botao" href="/auth/google?next={{googleNext}}">Entrar com Google</a></p>{{/google}}
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

    static let unavailable = """
        {{<layout}}{{$title}}Serviço indisponível{{/title}}{{$content}}
        <div class="card">
        <h1>Serviço indisponível</h1>
        <p class="erro" role="alert">{{message}}</p>
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
        {{#tasks}}<tr><td><a href="/tasks/{{id}}"><strong>{{title}}</strong></a><br><small>{{details}}</small></td>{{#seesAll}}<td>{{assignee}}</td>{{/seesAll}}<td><span class="status">{{status}}</span></td><td>{{due}}</td></tr>
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

    static let notFound = """
        {{<layout}}{{$title}}Não encontrado{{/title}}{{$content}}
        <div class="card">
        <h1>Não encontrado</h1>
        <p class="erro" role="alert">{{message}}</p>
        <p><a href="/tasks">Voltar</a></p>
        </div>
        {{/content}}{{/layout}}
        """

    static let task = """
        {{<layout}}{{$title}}{{task.title}}{{/title}}{{$content}}
        <div class="card">
        {{#task}}
        <p><a href="/tasks">← Tarefas</a></p>
        <h1>{{title}}</h1>
        <p>{{details}}</p>
        <table>
        <tr><th>Situação</th><td><span class="status">{{status}}</span></td></tr>
        <tr><th>Prazo</th><td>{{due}}</td></tr>
        <tr><th>Responsável</th><td>{{assignee}}</td></tr>
        </table>
        <form method="post" action="/tasks/{{id}}/status">
        <input type="hidden" name="csrf_token" value="{{csrf}}">
        <label>Nova situação <select name="status">{{#statuses}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/statuses}}</select></label>
        <button type="submit">Atualizar situação</button>
        </form>
        {{/task}}
        </div>
        {{/content}}{{/layout}}
        """

    static let companies = """
        {{<layout}}{{$title}}Empresas{{/title}}{{$content}}
        <div class="card">
        <h1>{{#seesAll}}Empresas do escritório{{/seesAll}}{{^seesAll}}Minhas empresas{{/seesAll}}</h1>
        {{#error}}<p class="erro" role="alert">{{error}}</p>{{/error}}
        {{#hasCompanies}}
        <table>
        <thead><tr><th>Razão social</th><th>CNPJ</th><th>Responsável</th></tr></thead>
        <tbody>
        {{#companies}}<tr><td><a href="/companies/{{id}}">{{name}}</a></td><td>{{cnpj}}</td><td>{{responsible}}</td></tr>
        {{/companies}}
        </tbody>
        </table>
        {{/hasCompanies}}
        {{^hasCompanies}}<p>{{#seesAll}}Nenhuma empresa cadastrada.{{/seesAll}}{{^seesAll}}Nenhuma empresa sob sua responsabilidade.{{/seesAll}}</p>{{/hasCompanies}}
        {{#seesAll}}
        <h2>Cadastrar empresa</h2>
        <form method="post" action="/companies">
        <input type="hidden" name="csrf_token" value="{{csrf}}">
        <label>Razão social <input name="name" value="{{formName}}" required maxlength="200"></label>
        <label>CNPJ <input name="cnpj" value="{{formCNPJ}}" required placeholder="00.000.000/0000-00"></label>
        <label>Responsável <select name="responsible">{{#people}}<option value="{{id}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/people}}</select></label>
        <button type="submit">Cadastrar</button>
        </form>
        {{/seesAll}}
        </div>
        {{/content}}{{/layout}}
        """

    static let company = """
        {{<layout}}{{$title}}{{company.name}}{{/title}}{{$content}}
        <div class="card">
        {{#company}}
        <p><a href="/companies">← Empresas</a></p>
        <h1>{{name}}</h1>
        <table>
        <tr><th>CNPJ</th><td>{{cnpj}}</td></tr>
        <tr><th>Responsável</th><td>{{responsible}}</td></tr>
        </table>
        {{/company}}
        </div>
        {{/content}}{{/layout}}
        """

    static let tokens = """
        {{<layout}}{{$title}}Tokens de API{{/title}}{{$content}}
        <div class="card">
        <h1>Tokens de API</h1>
        <p>Tokens pessoais dão acesso à API <code>/api/v1</code> em seu nome, no cabeçalho <code>Authorization: Bearer</code>.</p>
        {{#newToken}}<div class="ok" role="status"><p><strong>Copie o token agora: ele não será mostrado de novo.</strong></p><p><code id="novo-token">{{newToken}}</code></p></div>{{/newToken}}
        {{#error}}<p class="erro" role="alert">{{error}}</p>{{/error}}
        {{#hasTokens}}
        <table>
        <thead><tr><th>Nome</th><th>Início</th><th>Acesso</th><th>Criado</th><th>Expira</th><th>Último uso</th><th>Estado</th><th></th></tr></thead>
        <tbody>
        {{#tokens}}<tr><td>{{name}}</td><td><code>{{prefix}}…</code></td><td>{{scope}}</td><td>{{created}}</td><td>{{expires}}</td><td>{{lastUsed}}</td><td>{{state}}</td><td>
        {{#usable}}<form method="post" action="/tokens/{{id}}/revoke"><input type="hidden" name="csrf_token" value="{{csrf}}"><button type="submit">Revogar</button></form>{{/usable}}
        </td></tr>
        {{/tokens}}
        </tbody>
        </table>
        {{/hasTokens}}
        {{^hasTokens}}<p>Você ainda não criou tokens.</p>{{/hasTokens}}
        <h2>Novo token</h2>
        <form method="post" action="/tokens">
        <input type="hidden" name="csrf_token" value="{{csrf}}">
        <label>Nome (para que serve) <input name="name" required maxlength="80"></label>
        <label>Acesso <select name="scope"><option value="read">Somente leitura</option><option value="read,write">Leitura e escrita</option></select></label>
        <label>Validade <select name="days">{{#days}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}} dias</option>{{/days}}</select></label>
        <button type="submit">Criar token</button>
        </form>
        </div>
        {{/content}}{{/layout}}
        """

    static let password = """
        {{<layout}}{{$title}}Alterar senha{{/title}}{{$content}}
        <div class="card">
        <h1>Alterar senha</h1>
        <p>A nova senha precisa ter pelo menos {{minimum}} caracteres. Suas outras sessões serão encerradas e seus tokens de API, revogados.</p>
        {{#error}}<p class="erro" role="alert">{{error}}</p>{{/error}}
        <form method="post" action="/account/password">
        <input type="hidden" name="csrf_token" value="{{csrf}}">
        <label>Senha atual <input type="password" name="current" required autocomplete="current-password"></label>
        <label>Nova senha <input type="password" name="new" required minlength="{{minimum}}" autocomplete="new-password"></label>
        <label>Repita a nova senha <input type="password" name="confirmation" required minlength="{{minimum}}" autocomplete="new-password"></label>
        <button type="submit">Alterar senha</button>
        </form>
        </div>
        {{/content}}{{/layout}}
        """

    static let adminUsers = """
        {{<layout}}{{$title}}Usuários{{/title}}{{$content}}
        <div class="card">
        <h1>Usuários</h1>
        {{#notice}}<div class="ok" role="status"><p><strong>{{#created}}Usuário criado.{{/created}}{{^created}}Senha redefinida.{{/created}}</strong> Entregue a senha a {{email}} por um canal seguro; ela não será mostrada de novo.</p><p><code id="senha-gerada">{{password}}</code></p></div>{{/notice}}
        {{#error}}<p class="erro" role="alert">{{error}}</p>{{/error}}
        <table>
        <thead><tr><th>Nome</th><th>E-mail</th><th>Perfil</th><th>Situação</th><th></th></tr></thead>
        <tbody>
        {{#users}}<tr><td>{{name}}{{#isSelf}} (você){{/isSelf}}</td><td>{{email}}</td><td>
        <form method="post" action="/admin/users/{{id}}/role"><input type="hidden" name="csrf_token" value="{{csrf}}"><select name="role" aria-label="Perfil de {{email}}">{{#roles}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/roles}}</select> <button type="submit">Salvar</button></form>
        </td><td>{{#active}}Ativo{{/active}}{{^active}}Desativado{{/active}}</td><td>
        {{#active}}<form method="post" action="/admin/users/{{id}}/deactivate"><input type="hidden" name="csrf_token" value="{{csrf}}"><button type="submit">Desativar</button></form>{{/active}}
        {{^active}}<form method="post" action="/admin/users/{{id}}/activate"><input type="hidden" name="csrf_token" value="{{csrf}}"><button type="submit">Reativar</button></form>{{/active}}
        <form method="post" action="/admin/users/{{id}}/reset-password"><input type="hidden" name="csrf_token" value="{{csrf}}"><button type="submit">Redefinir senha</button></form>
        </td></tr>
        {{/users}}
        </tbody>
        </table>
        <h2>Novo usuário</h2>
        <form method="post" action="/admin/users">
        <input type="hidden" name="csrf_token" value="{{csrf}}">
        <label>Nome <input name="name" value="{{formName}}" required maxlength="120"></label>
        <label>E-mail <input type="email" name="email" value="{{formEmail}}" required></label>
        <label>Perfil <select name="role">{{#roles}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/roles}}</select></label>
        <button type="submit">Criar usuário</button>
        </form>
        </div>
        {{/content}}{{/layout}}
        """
}
